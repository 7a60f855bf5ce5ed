/**
 * Sessions never outlive their certificate: the `durationSeconds` to ask CreateSession for, and
 * the expiration to trust, for a certificate that expires at notAfter. A revoked certificate's
 * sessions are denied by the auth policies only until its notAfter (after that the deny is
 * dropped, since an expired certificate gets no new session): a session that lasted longer would
 * outlive its deny.
 */
import { X509Certificate } from 'node:crypto';

/** CreateSession's shortest session (durationSeconds 900 to 43,200). */
export const MIN_SESSION_SECONDS = 900;
/** What a profile grants when the request names no duration (Trellis's profiles: 3600). */
export const PROFILE_DEFAULT_SESSION_SECONDS = 3600;

/**
 * The durationSeconds to send: the requested one (or the profile default, left implicit) while the
 * certificate outlives it; otherwise the certificate's remaining life in whole seconds, but never
 * under Roles Anywhere's minimum of 900 (then {@link capExpiration} keeps the client from using the
 * session past notAfter).
 */
export function sessionDurationFor(notAfter: Date, now: Date, requested?: number): number | undefined {
  const remaining = Math.floor((notAfter.getTime() - now.getTime()) / 1000);
  if (remaining >= (requested ?? PROFILE_DEFAULT_SESSION_SECONDS)) return requested;
  return Math.max(MIN_SESSION_SECONDS, remaining);
}

/** Credentials are treated as expiring at the certificate's notAfter at the latest, so they are refreshed (with the renewed SVID) by then. */
export function capExpiration<T extends { expiration: Date }>(credentials: T, notAfter: Date): T {
  return credentials.expiration.getTime() > notAfter.getTime() ? { ...credentials, expiration: new Date(notAfter.getTime()) } : credentials;
}

/** The notAfter of a PEM certificate (the first one in the text). */
export function certificateNotAfter(certificatePem: string): Date {
  return new Date(new X509Certificate(certificatePem).validTo);
}
