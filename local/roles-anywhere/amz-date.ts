/** X-Amz-Date handling shared by both verifiers. */

/** How far X-Amz-Date may be from the server clock (SigV4's 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** `YYYYMMDDTHHMMSSZ` → Date, or undefined. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
