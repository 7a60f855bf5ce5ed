/**
 * SVID lifetime arithmetic. Renewal is due at half of the lifetime, as SPIRE does.
 *
 * Compute from the validity the SVID was ASKED for (or from a certificate whose NotBefore was set
 * explicitly): ACM Private CA back-dates NotBefore by 60 minutes when `ValidityNotBefore` is not
 * given (docs/aws-behaviour.md, "ACM Private CA › IssueCertificate validity"), which would move the
 * half-life of a one-hour SVID to the moment it was issued.
 */

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

/** Lifetime in milliseconds (0 for an empty or inverted window). */
export function svidLifetimeMs(window: ValidityWindow): number {
  return Math.max(0, window.notAfter.getTime() - window.notBefore.getTime());
}

/** The instant at which half of the lifetime has elapsed: when renewal is due. */
export function halfLifeAt(window: ValidityWindow): Date {
  return new Date(window.notBefore.getTime() + Math.floor(svidLifetimeMs(window) / 2));
}

/** True from the half-life on (inclusive), and for an expired SVID. */
export function isPastHalfLife(notBefore: Date, notAfter: Date, now: Date): boolean {
  return now.getTime() >= halfLifeAt({ notBefore, notAfter }).getTime();
}

/** True once `now` is at or after NotAfter. */
export function isExpired(notAfter: Date, now: Date): boolean {
  return now.getTime() >= notAfter.getTime();
}
