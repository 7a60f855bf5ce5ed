/**
 * Server-side SigV4 check for the local VPC Lattice data plane (signing name `vpc-lattice-svcs`).
 *
 * The expected signature is recomputed with @smithy/signature-v4 (`SignatureV4.sign`) on a
 * request rebuilt from exactly the headers the caller signed, at the caller's X-Amz-Date, with
 * the secret of the session the access key names; then compared in constant time. Lattice rules
 * (docs/aws-behaviour.md, "VPC Lattice data plane › SigV4 requests to Lattice services"): payload
 * signing is not supported, so `x-amz-content-sha256` must be
 * `UNSIGNED-PAYLOAD`. Session credentials must come with their `x-amz-security-token`.
 * Not supported locally: SigV4A (`AWS4-ECDSA-P256-SHA256`) and presigned (query-string) auth;
 * both are answered `malformed` / `missing`.
 */
import { headerValue } from './x509-request-verify';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { MAX_CLOCK_SKEW_MS, parseAmzDate } from './amz-date';
import { NodeSha256 } from './node-sha256';

export type SigV4FailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown-key'
  | 'expired'
  | 'bad-signature'
  | 'token-mismatch'
  | 'stale-date'
  | 'payload-signing-unsupported';

/** What the verifier needs to know about a credential. RolesAnywhereSession satisfies it. */
export interface SigV4Secret {
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface SigV4RequestParts {
  method: string;
  /** The path exactly as received on the wire (still percent-encoded), without the query string. */
  path: string;
  /** Decoded query parameters (as URLSearchParams reads them); repeated keys as arrays. */
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
}

export interface VerifySigV4Input<S extends SigV4Secret> extends SigV4RequestParts {
  service: string;
  region: string;
  lookup: (accessKeyId: string) => S | undefined;
  now?: Date;
}

export type VerifySigV4Result<S> = { ok: true; session: S; accessKeyId: string } | { ok: false; reason: SigV4FailureReason; message: string };

const HMAC_ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

const failure = (reason: SigV4FailureReason, message: string): { ok: false; reason: SigV4FailureReason; message: string } => ({ ok: false, reason, message });

const header = headerValue;

interface ParsedAuthorization {
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  scopeTerminator: string;
  signedHeaders: string[];
  signature: string;
}

export function parseSigV4Authorization(value: string): ParsedAuthorization | undefined {
  if (!value.startsWith(`${HMAC_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(HMAC_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || !signedHeaders || signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  const [accessKeyId = '', scopeDate = '', scopeRegion = '', scopeService = '', scopeTerminator = ''] = credential;
  return { accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator, signedHeaders: signedHeaders.split(';'), signature };
}

/** Splits a node:http request into the parts verifySigV4Request reads. */
export function sigV4PartsFromIncoming(req: IncomingMessage): SigV4RequestParts {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))) {
    const existing = query[key];
    query[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { method: req.method ?? 'GET', path: q < 0 ? raw : raw.slice(0, q), query, headers: req.headers };
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function verifySigV4Request<S extends SigV4Secret>(input: VerifySigV4Input<S>): Promise<VerifySigV4Result<S>> {
  const now = input.now ?? new Date();
  const authorization = header(input.headers, 'authorization');
  if (authorization === undefined || authorization === '') return failure('missing', 'the request is not signed (no Authorization header)');
  const auth = parseSigV4Authorization(authorization);
  if (auth === undefined) return failure('malformed', `the Authorization header is not a valid ${HMAC_ALGORITHM} authorization`);

  if (header(input.headers, 'x-amz-content-sha256') !== UNSIGNED_PAYLOAD) {
    return failure('payload-signing-unsupported', 'VPC Lattice does not support payload signing: send x-amz-content-sha256: UNSIGNED-PAYLOAD');
  }
  if (auth.scopeService !== input.service || auth.scopeTerminator !== 'aws4_request') {
    return failure('malformed', `the credential scope must end with /${input.service}/aws4_request`);
  }
  const missingSigned = ['host', 'x-amz-date'].filter((h) => !auth.signedHeaders.includes(h));
  if (missingSigned.length > 0) return failure('malformed', `SignedHeaders must include ${missingSigned.join(', ')}`);
  const absent = auth.signedHeaders.filter((h) => header(input.headers, h) === undefined);
  if (absent.length > 0) return failure('malformed', `signed header(s) missing from the request: ${absent.join(', ')}`);
  const amzDate = header(input.headers, 'x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return failure('malformed', 'X-Amz-Date is not in the form YYYYMMDDTHHMMSSZ');

  const session = input.lookup(auth.accessKeyId);
  if (session === undefined) return failure('unknown-key', 'the security token included in the request is invalid (unknown access key)');
  if (session.expiration !== undefined && session.expiration.getTime() <= now.getTime()) {
    return failure('expired', `the security token included in the request is expired (at ${session.expiration.toISOString()})`);
  }
  const token = header(input.headers, 'x-amz-security-token');
  if (token !== session.sessionToken) return failure('token-mismatch', 'x-amz-security-token does not belong to this access key');
  if (Math.abs(now.getTime() - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) {
    return failure('stale-date', `Signature expired: X-Amz-Date ${amzDate} is more than 5 minutes from the server time`);
  }

  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) headers[name] = header(input.headers, name) ?? '';
  const tokenSigned = auth.signedHeaders.includes('x-amz-security-token');
  const signer = new SignatureV4({
    service: input.service,
    region: input.region,
    credentials: {
      accessKeyId: auth.accessKeyId,
      secretAccessKey: session.secretAccessKey,
      // Only when the caller signed it: the signer adds (and signs) the token header when given one.
      ...(tokenSigned && session.sessionToken !== undefined ? { sessionToken: session.sessionToken } : {}),
    },
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const expected = await signer.sign(
    new HttpRequest({ method: input.method.toUpperCase(), path: input.path, query: input.query, headers }),
    { signingDate: signedAt, signableHeaders: new Set(auth.signedHeaders) },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(expected.headers.authorization ?? '')?.[1] ?? '';
  if (!sameHex(expectedSignature, auth.signature)) {
    return failure('bad-signature', 'the request signature we calculated does not match the signature you provided');
  }
  return { ok: true, session, accessKeyId: auth.accessKeyId };
}
