/**
 * CreateSession, the use case: authenticate the X.509-signed request, check the certificate
 * against the trust anchor, check the ARNs and duration, issue a session and store it.
 * Errors are answered as Roles Anywhere does (restJson1: status, x-amzn-ErrorType, `{message}`).
 */
import type { X509Certificate } from '../../shared/x509';
import { checkCertificate } from './certificate-checks';
import { createSessionResponseBody, issueSession, subjectArnFor, type InMemoryCredentialStore } from './credentials';
import { principalTagsFromCertificate } from './session-tags';
import { verifyX509Request, type SignedRequestParts } from './x509-request-verify';

export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43_200;

export interface CreateSessionConfig {
  region: string;
  accountId: string;
  partition: string;
  roleArn: string;
  profileArn: string;
  trustAnchorArn: string;
  trustAnchors: () => string[];
  sessionDurationDefault: number;
  now: () => Date;
  store: InMemoryCredentialStore;
  warn: (message: string, fields: Record<string, unknown>) => void;
  /** The enabled imported CRL listing this certificate, if any (crls.ts). */
  revokedBy?: (cert: X509Certificate) => { crlArn: string } | undefined;
  /** The role trust policy's `StringLike` conditions on principal tags (key without `aws:PrincipalTag/`). */
  roleTagConditions?: { key: string; pattern: string }[];
}

/** IAM `StringLike`: `*` any run of characters, `?` one character, case-sensitive. */
export function stringLike(value: string, pattern: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

export interface AwsAnswer {
  status: number;
  /** Set on errors: the x-amzn-ErrorType header value. */
  errorType?: string;
  body: Record<string, unknown>;
}

const error = (status: number, errorType: string, message: string): AwsAnswer => ({ status, errorType, body: { message } });
const accessDenied = (message: string): AwsAnswer => error(403, 'AccessDeniedException', message);
const validation = (message: string): AwsAnswer => error(400, 'ValidationException', message);

const ARN_FIELDS = ['trustAnchorArn', 'profileArn', 'roleArn'] as const;

/** ARNs from the query string (as the official helper sends them) or, failing that, the JSON body. */
function requestedArns(rawQuery: string, body: Record<string, unknown>): Record<(typeof ARN_FIELDS)[number], string | undefined> {
  const query = new URLSearchParams(rawQuery);
  const pick = (name: (typeof ARN_FIELDS)[number]): string | undefined => {
    const fromQuery = query.get(name);
    if (fromQuery !== null) return fromQuery;
    const fromBody = body[name];
    return typeof fromBody === 'string' ? fromBody : undefined;
  };
  return { trustAnchorArn: pick('trustAnchorArn'), profileArn: pick('profileArn'), roleArn: pick('roleArn') };
}

function parseBody(raw: Uint8Array): Record<string, unknown> | undefined {
  const text = Buffer.from(raw).toString('utf8').trim();
  if (text === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function createSession(parts: SignedRequestParts, config: CreateSessionConfig): Promise<AwsAnswer> {
  const now = config.now();
  const auth = await verifyX509Request(parts, { region: config.region, now });
  if (!auth.ok) return accessDenied(auth.message);

  const trust = await checkCertificate({
    leaf: auth.leaf,
    intermediates: auth.intermediates,
    anchors: config.trustAnchors(),
    now,
  });
  if (!trust.ok) return accessDenied(`Untrusted certificate: ${trust.message}`);
  // Revocation: only CRLs imported into the trust anchor and enabled count; Roles Anywhere asks no
  // CA, CDP or OCSP responder. The exact error text AWS returns is unconfirmed (docs/aws-behaviour.md).
  const crl = config.revokedBy?.(auth.leaf);
  if (crl !== undefined) return accessDenied(`Untrusted certificate: certificate ${auth.leaf.serialNumber.toLowerCase()} is revoked (listed in ${crl.crlArn})`);
  for (const warning of trust.warnings) config.warn(warning, { serial: auth.leaf.serialNumber, issuer: auth.leaf.issuer });

  const body = parseBody(parts.body);
  if (body === undefined) return validation('the request body must be a JSON object');
  const arns = requestedArns(parts.rawQuery, body);
  for (const field of ARN_FIELDS) {
    if (arns[field] === undefined) return validation(`${field} is required`);
  }
  if (arns.trustAnchorArn !== config.trustAnchorArn) return accessDenied(`unknown or disabled trust anchor ${arns.trustAnchorArn}`);
  if (arns.profileArn !== config.profileArn) return accessDenied(`unknown or disabled profile ${arns.profileArn}`);
  if (arns.roleArn !== config.roleArn) return accessDenied(`role ${arns.roleArn} is not one of the profile's roles`);
  // The deployed profile does not set acceptRoleSessionName, so a custom session name is refused
  // (the exact AWS error for this case is UNCONFIRMED).
  if (body.roleSessionName !== undefined) return accessDenied('the profile does not accept a roleSessionName');

  // The role's trust policy, as IAM evaluates it for the session: a missing tag fails StringLike.
  if (config.roleTagConditions !== undefined && config.roleTagConditions.length > 0) {
    const tags = principalTagsFromCertificate(auth.leaf);
    for (const { key, pattern } of config.roleTagConditions) {
      const value = tags[key];
      if (value === undefined || !stringLike(value, pattern)) {
        return accessDenied(`the trust policy of role ${config.roleArn} refuses this certificate: aws:PrincipalTag/${key} ${value === undefined ? 'is absent' : `"${value}"`} does not match "${pattern}"`);
      }
    }
  }

  const duration = body.durationSeconds ?? config.sessionDurationDefault;
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < MIN_DURATION_SECONDS || duration > MAX_DURATION_SECONDS) {
    return validation(`durationSeconds must be an integer from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`);
  }

  const session = issueSession({
    roleArn: config.roleArn,
    trustAnchorArn: config.trustAnchorArn,
    leaf: auth.leaf,
    durationSeconds: duration,
    now,
  });
  config.store.put(session);
  return { status: 201, body: createSessionResponseBody(session, subjectArnFor(config.region, config.accountId, auth.leaf, config.partition)) };
}
