/**
 * Model validation of request members, with messages in the form AWS's front end uses
 * ("1 validation error detected: Value at 'validity.value' failed to satisfy constraint: Member
 * must have value greater than or equal to 1"). zod checks the shapes; this file only words the
 * failures and picks the error name.
 */
import { z } from 'zod';
import { PcaError, type PcaErrorName } from './pca-error';

/** Canonical base64 (padding required, no whitespace): blobs on the wire and CustomExtensions values. */
export const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const constraint = (issue: z.core.$ZodRawIssue): string => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined || issue.input === null ? 'Member must not be null' : `Member must be of type ${issue.expected}`;
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue ? `Member must satisfy regular expression pattern: ${String(issue.pattern)}` : `Member must be a valid ${issue.format}`;
    case 'too_small':
      return issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint'
        ? `Member must have value greater than or equal to ${String(issue.minimum)}`
        : `Member must have length greater than or equal to ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint'
        ? `Member must have value less than or equal to ${String(issue.maximum)}`
        : `Member must have length less than or equal to ${String(issue.maximum)}`;
    case 'custom':
      return issue.message ?? 'Member is not valid';
    default:
      return issue.message ?? 'Member is not valid';
  }
};

const lowerFirst = (segment: PropertyKey): string => {
  const text = String(segment);
  return text.charAt(0).toLowerCase() + text.slice(1);
};

/** Parses `input` or throws a PcaError named `errorName` listing every violated constraint. */
export function parseMembers<T>(schema: z.ZodType<T>, input: unknown, errorName: PcaErrorName, root: string[] = []): T {
  const result = schema.safeParse(input, { error: (issue) => constraint(issue) });
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => {
    const path = [...root, ...issue.path].map(lowerFirst).join('.');
    return `Value at '${path}' failed to satisfy constraint: ${issue.message}`;
  });
  const count = details.length;
  throw new PcaError(errorName, `${count} validation error${count === 1 ? '' : 's'} detected: ${details.join('; ')}`);
}
