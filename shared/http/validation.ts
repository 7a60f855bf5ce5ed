import type * as z from 'zod';
import { validationError, type ErrorDetail } from '../errors';

/** zod issues → details that name each field and the rule it broke. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of issues) {
    const field = issue.path.map(String).join('.') || '(body)';
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          details.push({ field: [...issue.path.map(String), key].join('.'), rule: 'unknown-field', message: 'is not a field of this request' });
        }
        break;
      case 'invalid_type':
        details.push(
          issue.input === undefined
            ? { field, rule: 'required', message: 'is required' }
            : { field, rule: 'type', message: issue.message.startsWith('Invalid input') ? `must be of type ${issue.expected}` : issue.message },
        );
        break;
      case 'too_small':
        details.push({ field, rule: 'min', message: issue.message });
        break;
      case 'too_big':
        details.push({ field, rule: 'max', message: issue.message });
        break;
      case 'invalid_format':
        details.push({ field, rule: 'format', message: issue.message });
        break;
      case 'custom': {
        const rule = (issue.params as { rule?: string } | undefined)?.rule ?? 'invalid';
        details.push({ field, rule, message: issue.message });
        break;
      }
      default:
        details.push({ field, rule: issue.code, message: issue.message });
    }
  }
  return details;
}

/** Parses `input` with `schema` or throws a 400 naming every invalid field and rule. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (parsed.success) return parsed.data;
  const details = issuesToDetails(parsed.error.issues);
  const summary = details.map((d) => `${d.field} ${d.message} (${d.rule})`).join('; ');
  throw validationError(`The request is invalid: ${summary}`, details);
}
