/**
 * IAM Roles Anywhere CreateSession from a workload: signs `POST /sessions` with the X.509-SVID's
 * private key (the "AWS4-X509-*-SHA256" variant of SigV4) and returns temporary credentials.
 * Works unchanged against https://rolesanywhere.<region>.amazonaws.com and the local stand-in.
 *
 * Wire format, as the official aws/rolesanywhere-credential-helper sends it
 * (aws_signing_helper/signer.go, rolesanywhere/serializers.go):
 *  - profileArn, roleArn, trustAnchorArn as query-string parameters, JSON body `{durationSeconds}`;
 *  - headers Content-Type, Host, X-Amz-Date, X-Amz-X509 (base64 DER leaf) and, when a chain is
 *    sent, X-Amz-X509-Chain (comma-separated base64 DER); all of them signed;
 *  - canonical request exactly as SigV4, with the hex SHA-256 of the body as payload hash;
 *  - string to sign `<algorithm>\n<x-amz-date>\n<scope>\n<hex sha256(canonical request)>`, with
 *    scope `<yyyymmdd>/<region>/rolesanywhere/aws4_request`;
 *  - the signature is the private key's SHA-256 signature over the string to sign: ECDSA as the
 *    hex of the DER Ecdsa-Sig-Value, RSA as hex PKCS#1 v1.5; no HMAC key derivation;
 *  - `Credential=<certificate serial in decimal>/<scope>`.
 *
 * The canonical request and string to sign come from @smithy/signature-v4's own SigV4 code
 * (SignatureV4Base), so only the final signing step (a WebCrypto signature instead of an HMAC)
 * is written here: no library signs with an X.509 key.
 */
import type { webcrypto } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4Base, createScope, getCanonicalHeaders, getPayloadHash } from '@smithy/signature-v4';
import { AsnEcSignatureFormatter, PemConverter, X509Certificate } from './x509';
import { z } from 'zod';
import { send, type FetchLike } from './http-transport';

type CryptoKey = webcrypto.CryptoKey;

export const ROLES_ANYWHERE_SIGNING_NAME = 'rolesanywhere';
export type X509SigningAlgorithm = 'AWS4-X509-ECDSA-SHA256' | 'AWS4-X509-RSA-SHA256';

export interface CreateSessionInput {
  /** e.g. https://rolesanywhere.us-east-1.amazonaws.com, or http://127.0.0.1:<port> locally. */
  endpoint: string;
  region: string;
  trustAnchorArn: string;
  profileArn: string;
  roleArn: string;
  /** The leaf (end-entity) certificate, PEM. */
  certificatePem: string;
  /** Intermediate CA certificates (PEM; each entry may hold several), sent in X-Amz-X509-Chain. */
  chainPems?: string[];
  /** The leaf's private key: ECDSA (P-256/P-384) or RSASSA-PKCS1-v1_5 with SHA-256. */
  privateKey: CryptoKey;
  /** 900..43200; omitted from the body when not given (the profile default applies, 3600). */
  durationSeconds?: number;
  /** PEM CA bundle to trust for an https endpoint with a private server certificate. */
  ca?: string;
  /** Send through this fetch instead of node:https (tests use it to rewrite requests). */
  fetchImpl?: FetchLike;
  /** Signing time; defaults to now. For tests and clock-skew correction. */
  signingDate?: Date;
  /**
   * Send the three ARNs in the JSON body (the form the AWS docs show) instead of the query
   * string (the form the official credential helper sends, and the default).
   */
  arnsInBody?: boolean;
}

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  assumedRoleArn: string;
  sourceIdentity?: string;
  subjectArn?: string;
}

/** An error answer from Roles Anywhere (AWS restJson1 error: code from x-amzn-ErrorType or body). */
export class RolesAnywhereError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(`${code}: ${message}`);
    this.name = 'RolesAnywhereError';
    this.code = code;
    this.status = status;
  }
}

/** Exposes SignatureV4Base's canonicalisation (protected there) for the X.509 variant. */
class X509CanonicalSigner extends SignatureV4Base {
  constructor(region: string) {
    // No secret: the credentials provider is required by the base class but never used here.
    super({ service: ROLES_ANYWHERE_SIGNING_NAME, region, credentials: { accessKeyId: '', secretAccessKey: '' }, sha256: Sha256 });
  }

  async stringToSign(request: HttpRequest, algorithm: X509SigningAlgorithm, date: Date, region: string) {
    const { longDate, shortDate } = this.formatDate(date);
    const scope = createScope(shortDate, region, ROLES_ANYWHERE_SIGNING_NAME);
    request.headers['x-amz-date'] = longDate;
    const canonicalHeaders = getCanonicalHeaders(request);
    const payloadHash = await getPayloadHash(request, Sha256);
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    return {
      scope,
      signedHeaders: this.getCanonicalHeaderList(canonicalHeaders),
      stringToSign: await this.createStringToSign(longDate, scope, canonicalRequest, algorithm),
    };
  }
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function signingAlgorithmFor(key: CryptoKey): X509SigningAlgorithm {
  if (key.algorithm.name === 'ECDSA') return 'AWS4-X509-ECDSA-SHA256';
  if (key.algorithm.name === 'RSASSA-PKCS1-v1_5') {
    const hash = (key.algorithm as webcrypto.RsaHashedKeyAlgorithm).hash.name;
    if (hash !== 'SHA-256') throw new Error(`an RSA key for Roles Anywhere must be imported with hash SHA-256, not ${hash}`);
    return 'AWS4-X509-RSA-SHA256';
  }
  throw new Error(`Roles Anywhere signs with ECDSA or RSASSA-PKCS1-v1_5 keys, not ${key.algorithm.name}`);
}

/** The private key's SHA-256 signature over `data`, hex; ECDSA as DER (WebCrypto returns r||s). */
export async function signX509(key: CryptoKey, data: string): Promise<string> {
  const bytes = new TextEncoder().encode(data);
  if (signingAlgorithmFor(key) === 'AWS4-X509-ECDSA-SHA256') {
    const p1363 = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, bytes);
    const namedCurve = (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
    const der = new AsnEcSignatureFormatter().toAsnSignature({ name: 'ECDSA', namedCurve } as webcrypto.EcKeyAlgorithm, p1363);
    if (der === null) throw new Error('could not DER-encode the ECDSA signature');
    return Buffer.from(der).toString('hex');
  }
  const sig = await crypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key, bytes);
  return Buffer.from(sig).toString('hex');
}

const base64Ders = (pem: string): string[] => PemConverter.decode(pem).map((der) => Buffer.from(der).toString('base64'));

export interface SignedCreateSessionRequest {
  url: URL;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/** Builds and signs the CreateSession request without sending it. */
export async function signCreateSessionRequest(input: Omit<CreateSessionInput, 'fetchImpl' | 'ca'>): Promise<SignedCreateSessionRequest> {
  const certificate = new X509Certificate(input.certificatePem);
  const serialDecimal = BigInt(`0x${certificate.serialNumber}`).toString(10);
  const algorithm = signingAlgorithmFor(input.privateKey);

  const arns = { profileArn: input.profileArn, roleArn: input.roleArn, trustAnchorArn: input.trustAnchorArn };
  for (const [name, value] of Object.entries(arns)) {
    if (typeof value !== 'string' || !value.startsWith('arn:')) throw new RolesAnywhereError('InvalidArgument', 0, `createSession needs ${name} (an ARN), got ${JSON.stringify(value)}`);
  }
  const query: Record<string, string> = input.arnsInBody === true ? {} : arns;
  const queryString = Object.keys(query)
    .sort()
    .map((k) => `${rfc3986(k)}=${rfc3986(query[k] ?? '')}`)
    .join('&');
  const url = new URL(queryString === '' ? '/sessions' : `/sessions?${queryString}`, input.endpoint);
  const body = JSON.stringify({
    ...(input.durationSeconds === undefined ? {} : { durationSeconds: input.durationSeconds }),
    ...(input.arnsInBody === true ? arns : {}),
  });

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    host: url.host,
    'x-amz-x509': Buffer.from(certificate.rawData).toString('base64'),
  };
  const chain = (input.chainPems ?? []).flatMap(base64Ders);
  if (chain.length > 0) headers['x-amz-x509-chain'] = chain.join(',');

  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    path: url.pathname,
    query,
    headers,
    body,
  });
  const signed = await new X509CanonicalSigner(input.region).stringToSign(request, algorithm, input.signingDate ?? new Date(), input.region);
  const signature = await signX509(input.privateKey, signed.stringToSign);
  return {
    url,
    method: 'POST',
    headers: {
      ...request.headers,
      authorization: `${algorithm} Credential=${serialDecimal}/${signed.scope}, SignedHeaders=${signed.signedHeaders}, Signature=${signature}`,
    },
    body,
  };
}

const createSessionResponse = z.object({
  credentialSet: z
    .array(
      z.object({
        assumedRoleUser: z.object({ arn: z.string(), assumedRoleId: z.string().optional() }),
        credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string(), expiration: z.string() }),
        sourceIdentity: z.string().optional(),
      }),
    )
    .min(1),
  subjectArn: z.string().optional(),
});

function errorFrom(status: number, headers: Record<string, string>, body: string): RolesAnywhereError {
  let parsed: { message?: unknown; Message?: unknown; __type?: unknown; code?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // not JSON: keep the raw text as the message
  }
  const rawCode = headers['x-amzn-errortype'] ?? (typeof parsed.__type === 'string' ? parsed.__type : undefined) ?? (typeof parsed.code === 'string' ? parsed.code : undefined);
  // "AccessDeniedException:http://..." or "aws.protocols#AccessDeniedException" → "AccessDeniedException"
  const code = rawCode === undefined ? `Http${status}` : (rawCode.split(':')[0] ?? '').split('#').pop() || rawCode;
  const message = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : body.slice(0, 500);
  return new RolesAnywhereError(code, status, message);
}

/** Calls CreateSession; throws RolesAnywhereError on an error answer. */
export async function createSession(input: CreateSessionInput): Promise<SessionCredentials> {
  const signed = await signCreateSessionRequest(input);
  const res = await send({
    url: signed.url,
    method: signed.method,
    headers: signed.headers,
    body: signed.body,
    ...(input.ca === undefined ? {} : { ca: input.ca }),
    ...(input.fetchImpl === undefined ? {} : { fetchImpl: input.fetchImpl }),
  });
  if (res.status < 200 || res.status > 299) throw errorFrom(res.status, res.headers, res.body);
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new RolesAnywhereError('InvalidResponse', res.status, 'CreateSession answered with a body that is not JSON');
  }
  const parsed = createSessionResponse.safeParse(json);
  if (!parsed.success) throw new RolesAnywhereError('InvalidResponse', res.status, `unexpected CreateSession response: ${parsed.error.message}`);
  const [first] = parsed.data.credentialSet;
  if (first === undefined) throw new RolesAnywhereError('InvalidResponse', res.status, 'empty credentialSet');
  return {
    accessKeyId: first.credentials.accessKeyId,
    secretAccessKey: first.credentials.secretAccessKey,
    sessionToken: first.credentials.sessionToken,
    expiration: new Date(first.credentials.expiration),
    assumedRoleArn: first.assumedRoleUser.arn,
    ...(first.sourceIdentity === undefined ? {} : { sourceIdentity: first.sourceIdentity }),
    ...(parsed.data.subjectArn === undefined ? {} : { subjectArn: parsed.data.subjectArn }),
  };
}
