import { cannotParse, type FieldError } from './errors';
import {
  CERTIFICATE_ARN_PATTERN,
  CLIENT_TOKEN_PATTERN,
  RESOURCE_IDENTIFIER_PATTERN,
  SERVICE_IDENTIFIER_PATTERN,
  SERVICE_NAME_PATTERN,
} from './ids';
import type { AuthType } from './store';

/**
 * Input checks of the operations the stand-in serves, with the constraints of the model (botocore vpc-lattice
 * service-2.json). Type mismatches in a JSON body throw ValidationException reason `cannotParse`; constraint
 * breaches are returned as FieldError lists (reason `fieldValidationFailed`), one entry per failing member.
 */

/** AuthPolicyString max length (model). Smithy counts a string's length in Unicode scalar values. */
export const MAX_POLICY_CHARS = 36_864;
/**
 * Quota "Auth policy size: 10 Kilobytes", not adjustable (UG quotas page). Whether that is 10,000 or 10,240 bytes
 * is UNCONFIRMED; read as 10,000 bytes of UTF-8 (the stricter reading), configurable.
 */
export const DEFAULT_MAX_POLICY_BYTES = 10_000;

export const AUTH_TYPES: readonly AuthType[] = ['NONE', 'AWS_IAM'];

export type JsonObject = Record<string, unknown>;

export const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const codePoints = (text: string): number => {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
};

/** Reads an optional string member; a present non-string is a parse error, as for any restJson1 body. */
export const optionalString = (body: JsonObject, member: string): string | undefined => {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw cannotParse(`Member ${member} must be a string`, [{ name: member, message: 'Expected a string' }]);
  }
  return value;
};

export const checkLength = (member: string, value: string, min: number, max: number): FieldError[] => {
  const n = codePoints(value);
  return n < min || n > max ? [{ name: member, message: `Member must have length between ${min} and ${max}` }] : [];
};

export const checkResourceIdentifier = (value: string): FieldError[] => {
  const length = checkLength('resourceIdentifier', value, 17, 200);
  if (length.length > 0) return length;
  return RESOURCE_IDENTIFIER_PATTERN.test(value)
    ? []
    : [
        {
          name: 'resourceIdentifier',
          message:
            'Member must be a service network, service or resource configuration id (sn-, svc-, rcfg- followed by 17 lowercase alphanumerics) or ARN',
        },
      ];
};

export const checkServiceIdentifier = (value: string): FieldError[] => {
  const length = checkLength('serviceIdentifier', value, 17, 2048);
  if (length.length > 0) return length;
  return SERVICE_IDENTIFIER_PATTERN.test(value)
    ? []
    : [{ name: 'serviceIdentifier', message: 'Member must be a service id (svc- followed by 17 lowercase alphanumerics) or a service ARN' }];
};

export const checkServiceName = (value: string | undefined): FieldError[] => {
  if (value === undefined) return [{ name: 'name', message: 'Member must not be null' }];
  const length = checkLength('name', value, 3, 40);
  if (length.length > 0) return length;
  return SERVICE_NAME_PATTERN.test(value)
    ? []
    : [
        {
          name: 'name',
          message:
            'Member must contain only lowercase letters, digits and hyphens, must not start with "svc-", must not start or end with a hyphen and must not contain "--"',
        },
      ];
};

export const checkAuthType = (value: string | undefined): FieldError[] =>
  value === undefined || (AUTH_TYPES as readonly string[]).includes(value)
    ? []
    : [{ name: 'authType', message: `Member must satisfy enum value set: [${AUTH_TYPES.join(', ')}]` }];

export const checkCertificateArn = (value: string | undefined): FieldError[] => {
  if (value === undefined) return [];
  const length = checkLength('certificateArn', value, 0, 2048);
  if (length.length > 0) return length;
  return CERTIFICATE_ARN_PATTERN.test(value) ? [] : [{ name: 'certificateArn', message: 'Member must be an ACM certificate ARN' }];
};

export const checkClientToken = (value: string | undefined): FieldError[] => {
  if (value === undefined) return [];
  const length = checkLength('clientToken', value, 1, 64);
  if (length.length > 0) return length;
  return CLIENT_TOKEN_PATTERN.test(value) ? [] : [{ name: 'clientToken', message: 'Member must contain a printable character' }];
};

export const checkCustomDomainName = (value: string | undefined): FieldError[] =>
  value === undefined ? [] : checkLength('customDomainName', value, 3, 255);

/** TagMap: up to 200 entries, keys 1–128 and values 0–256 characters. */
export const checkTags = (value: unknown): FieldError[] => {
  if (value === undefined || value === null) return [];
  if (!isJsonObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw cannotParse('Member tags must be a map of strings', [{ name: 'tags', message: 'Expected a map of strings' }]);
  }
  const entries = Object.entries(value);
  if (entries.length > 200) return [{ name: 'tags', message: 'Member must have at most 200 entries' }];
  const bad = entries.find(([k, v]) => codePoints(k) < 1 || codePoints(k) > 128 || codePoints(v as string) > 256);
  return bad === undefined ? [] : [{ name: 'tags', message: `Tag ${bad[0]} breaks the key (1-128) or value (0-256) length limit` }];
};

/**
 * Auth policy document checks, first failure wins: model length, then the documented "must not contain newlines
 * or blank lines" rule, then JSON, then the size quota.
 *
 * Decision (UNCONFIRMED): a policy over the 10 KB quota is answered with ValidationException (reason
 * fieldValidationFailed, field `policy`), not ServiceQuotaExceededException. PutAuthPolicy's modeled errors are
 * Validation, AccessDenied, ResourceNotFound, Throttling and InternalServer only; ServiceQuotaExceeded (402) is
 * modeled on operations that create resources and count them against a quota, and a too-large document is a bad
 * input, not one resource too many.
 */
export const checkPolicy = (policy: string | undefined, maxPolicyBytes: number): FieldError[] => {
  if (policy === undefined) return [{ name: 'policy', message: 'Member must not be null' }];
  const length = checkLength('policy', policy, 0, MAX_POLICY_CHARS);
  if (length.length > 0) return length;
  if (/[\r\n]/.test(policy)) return [{ name: 'policy', message: 'The policy must not contain newlines or blank lines' }];
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch {
    return [{ name: 'policy', message: 'The policy is not valid JSON' }];
  }
  if (!isJsonObject(parsed)) return [{ name: 'policy', message: 'The policy must be a JSON object' }];
  const bytes = Buffer.byteLength(policy, 'utf8');
  return bytes > maxPolicyBytes
    ? [{ name: 'policy', message: `The policy is ${bytes} bytes, over the auth policy size quota of ${maxPolicyBytes} bytes` }]
    : [];
};

export interface ListQuery {
  maxResults: number | undefined;
  nextToken: string | undefined;
}

/** ListServices query: maxResults 1–100 (a non-integer cannot be parsed), nextToken 1–2048 characters. */
export const checkListQuery = (query: URLSearchParams): { query: ListQuery; errors: FieldError[] } => {
  const rawMax = query.get('maxResults');
  const nextToken = query.get('nextToken') ?? undefined;
  const errors: FieldError[] = [];
  let maxResults: number | undefined;
  if (rawMax !== null) {
    if (!/^-?\d+$/.test(rawMax)) {
      throw cannotParse('Member maxResults must be an integer', [{ name: 'maxResults', message: 'Expected an integer' }]);
    }
    maxResults = Number(rawMax);
    if (maxResults < 1 || maxResults > 100) errors.push({ name: 'maxResults', message: 'Member must be between 1 and 100' });
  }
  if (nextToken !== undefined) errors.push(...checkLength('nextToken', nextToken, 1, 2048));
  return { query: { maxResults, nextToken }, errors };
};
