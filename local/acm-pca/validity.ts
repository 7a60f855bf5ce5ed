/**
 * `Validity` / `ValidityNotBefore` of IssueCertificate turned into the certificate's NotBefore and
 * NotAfter, with the service's rules (docs/aws-behaviour.md, "ACM Private CA › IssueCertificate
 * validity"). Pure: the issuance time is an input.
 */
import { pcaError } from './pca-error';

export const VALIDITY_TYPES = ['END_DATE', 'ABSOLUTE', 'DAYS', 'MONTHS', 'YEARS'] as const;
export type ValidityPeriodType = (typeof VALIDITY_TYPES)[number];

export interface Validity {
  readonly Type: ValidityPeriodType;
  readonly Value: number;
}

export interface ValidityWindow {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** AWS back-dates NotBefore by 60 minutes when ValidityNotBefore is not given. */
export const DEFAULT_NOT_BEFORE_BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const invalid = (message: string) => pcaError('InvalidArgsException', message);

/** X.509 times carry whole seconds; truncating here keeps the returned window equal to what is encoded. */
const toWholeSecond = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/**
 * END_DATE: UTCTime `YYMMDDHHMMSS` (YY ≥ 50 → 19YY, else 20YY) or GeneralizedTime `YYYYMMDDHHMMSS`,
 * given as an integer, in UTC. An integer loses leading zeros (090101000000 arrives as
 * 90101000000), so up to 12 digits is read as UTCTime and 13–14 digits as GeneralizedTime.
 */
export function parseEndDate(value: number): Date {
  const digits = String(value);
  if (!Number.isSafeInteger(value) || value < 0 || digits.length > 14) {
    throw invalid(`Validity value ${value} is not a valid END_DATE (YYMMDDHHMMSS or YYYYMMDDHHMMSS).`);
  }
  let text: string;
  if (digits.length <= 12) {
    const utc = digits.padStart(12, '0');
    const yy = Number(utc.slice(0, 2));
    text = `${yy >= 50 ? '19' : '20'}${utc}`;
  } else {
    text = digits.padStart(14, '0');
  }
  const [year, month, day, hour, minute, second] = [0, 4, 6, 8, 10, 12].map((start, i) => Number(text.slice(start, i === 0 ? 4 : start + 2))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(ms);
  // Date.UTC rolls over (month 13, day 32, 25:00); a round trip catches every out-of-range field.
  if (
    month < 1 ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw invalid(`Validity value ${value} is not a valid END_DATE date and time.`);
  }
  return date;
}

/**
 * Calendar-month arithmetic in UTC that clamps to the last day of the target month
 * (31 Jan + 1 month = 28/29 Feb), as java.time's plusMonths does. Whether AWS clamps or rolls over
 * is UNCONFIRMED; clamping is decided because AWS Private CA runs on the JVM.
 */
export function addMonthsUtc(from: Date, months: number): Date {
  const target = new Date(from.getTime());
  const day = target.getUTCDate();
  target.setUTCDate(1);
  target.setUTCMonth(target.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target;
}

/** NotAfter for a Validity, counted from the issuance time for the relative types. */
export function validityEnd(validity: Validity, issuedAt: Date): Date {
  switch (validity.Type) {
    case 'END_DATE':
      return parseEndDate(validity.Value);
    case 'ABSOLUTE':
      return new Date(validity.Value * 1000);
    case 'DAYS':
      return new Date(issuedAt.getTime() + validity.Value * DAY_MS);
    case 'MONTHS':
      return addMonthsUtc(issuedAt, validity.Value);
    case 'YEARS':
      return addMonthsUtc(issuedAt, validity.Value * 12);
  }
}

export interface ResolveValidityInput {
  readonly validity: Validity;
  readonly validityNotBefore?: Validity | undefined;
  readonly issuedAt: Date;
  readonly caNotBefore: Date;
  readonly caNotAfter: Date;
}

/**
 * Rules: ValidityNotBefore must be ABSOLUTE; default NotBefore = issuance − 60 min (never before the
 * CA's own NotBefore); NotAfter must not pass the CA's NotAfter; the certificate must be valid for at
 * least 1 s (relative types are ≥ 1 day by construction since Value ≥ 1).
 * UNCONFIRMED, decided: an explicit ValidityNotBefore earlier than the CA's NotBefore is refused
 * (InvalidArgsException), because the CA's validity bounds the certificate's. A NotAfter already in
 * the past is accepted as long as it is after NotBefore (handy for expiry tests).
 */
export function resolveValidity(input: ResolveValidityInput): ValidityWindow {
  const { validity, validityNotBefore, issuedAt, caNotBefore, caNotAfter } = input;
  let notBeforeMs: number;
  if (validityNotBefore !== undefined) {
    if (validityNotBefore.Type !== 'ABSOLUTE') {
      throw invalid(`ValidityNotBefore must use the ABSOLUTE type, not ${validityNotBefore.Type}.`);
    }
    notBeforeMs = validityNotBefore.Value * 1000;
    if (notBeforeMs < caNotBefore.getTime()) {
      throw invalid(`ValidityNotBefore ${new Date(notBeforeMs).toISOString()} is before the CA certificate's NotBefore ${caNotBefore.toISOString()}.`);
    }
  } else {
    notBeforeMs = Math.max(issuedAt.getTime() - DEFAULT_NOT_BEFORE_BACKDATE_MS, caNotBefore.getTime());
  }
  const notBefore = toWholeSecond(notBeforeMs);
  const endMs = validityEnd(validity, issuedAt).getTime();
  if (!Number.isFinite(endMs) || endMs > caNotAfter.getTime()) {
    throw invalid(`The certificate validity (${validity.Type} ${validity.Value}) extends past the CA certificate's NotAfter ${caNotAfter.toISOString()}.`);
  }
  const notAfter = toWholeSecond(endMs);
  if (notAfter.getTime() - notBefore.getTime() < 1000) {
    throw invalid(`The certificate's NotAfter ${notAfter.toISOString()} must be at least 1 second after its NotBefore ${notBefore.toISOString()}.`);
  }
  return { notBefore, notAfter };
}
