/**
 * Server-side check of a CreateSession request signed with "AWS4-X509-ECDSA-SHA256" or
 * "AWS4-X509-RSA-SHA256" (the X.509 variant of SigV4; see client/src/roles-anywhere-signer.ts
 * for the wire format). The canonical request is rebuilt here from the SignedHeaders list,
 * independently of the client (which uses @smithy/signature-v4's canonicaliser), so the two
 * cross-check each other; no library verifies this signature scheme.
 */
import { createHash } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AsnEcSignatureFormatter, X509Certificate } from '../../shared/x509';
import { MAX_CLOCK_SKEW_MS, parseAmzDate } from './amz-date';

export const X509_ALGORITHMS = ['AWS4-X509-ECDSA-SHA256', 'AWS4-X509-RSA-SHA256'] as const;
export type X509Algorithm = (typeof X509_ALGORITHMS)[number];
const SERVICE = 'rolesanywhere';

export interface SignedRequestParts {
  method: string;
  /** The request path as received, without the query string. */
  path: string;
  /** The raw query string as received, without "?". */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

export type X509AuthResult =
  | { ok: true; algorithm: X509Algorithm; leaf: X509Certificate; intermediates: X509Certificate[] }
  | { ok: false; message: string };

interface ParsedAuthorization {
  algorithm: X509Algorithm;
  serial: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  scopeTerminator: string;
  signedHeaders: string[];
  signature: string;
}

const fail = (message: string): X509AuthResult => ({ ok: false, message });
const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A header by lower-case name (also when the map kept another casing), repeated values joined with ",". */
export function headerValue(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[Object.keys(headers).find((k) => k.toLowerCase() === name) ?? ''];
  return Array.isArray(value) ? value.join(',') : value;
}

export function parseX509Authorization(header: string): ParsedAuthorization | undefined {
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const algorithm = header.slice(0, space);
  if (!(X509_ALGORITHMS as readonly string[]).includes(algorithm)) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || signedHeaders === undefined || signature === undefined || !/^([0-9a-f]{2})+$/i.test(signature)) return undefined;
  const [serial = '', scopeDate = '', scopeRegion = '', scopeService = '', scopeTerminator = ''] = credential;
  return {
    algorithm: algorithm as X509Algorithm,
    serial,
    scopeDate,
    scopeRegion,
    scopeService,
    scopeTerminator,
    signedHeaders: signedHeaders.split(';'),
    signature: signature.toLowerCase(),
  };
}

/** Query parameters decoded as Go's url.ParseQuery does ('+' is a space), re-encoded RFC 3986 and sorted. */
export function canonicalQuery(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s; // malformed %-escape: keep it; the signature will not match
      }
    };
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    pairs.push([rfc3986(key), rfc3986(value)]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export function canonicalRequest(parts: SignedRequestParts, signedHeaders: string[]): string {
  const headerLines = signedHeaders.map((name) => `${name}:${(headerValue(parts.headers, name) ?? '').trim().replace(/\s+/g, ' ')}`);
  return [parts.method, parts.path, canonicalQuery(parts.rawQuery), ...headerLines, '', signedHeaders.join(';'), sha256Hex(parts.body)].join('\n');
}

function decodeCertificate(base64: string): X509Certificate | undefined {
  try {
    return new X509Certificate(Buffer.from(base64.trim(), 'base64'));
  } catch {
    return undefined;
  }
}

async function verifySignature(leaf: X509Certificate, algorithm: X509Algorithm, signatureHex: string, stringToSign: string): Promise<boolean> {
  const keyAlgorithm = leaf.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
  const data = new TextEncoder().encode(stringToSign);
  const signature = Buffer.from(signatureHex, 'hex');
  try {
    if (algorithm === 'AWS4-X509-ECDSA-SHA256') {
      if (keyAlgorithm.name !== 'ECDSA') return false;
      const publicKey = await leaf.publicKey.export({ name: 'ECDSA', namedCurve: keyAlgorithm.namedCurve } as webcrypto.EcKeyImportParams, ['verify']);
      const p1363 = new AsnEcSignatureFormatter().toWebSignature({ name: 'ECDSA', namedCurve: keyAlgorithm.namedCurve } as webcrypto.EcKeyAlgorithm, signature);
      if (p1363 === null) return false;
      return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, p1363, data);
    }
    if (keyAlgorithm.name !== 'RSASSA-PKCS1-v1_5') return false;
    const publicKey = await leaf.publicKey.export({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams, ['verify']);
    return await crypto.subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, publicKey, signature, data);
  } catch {
    return false; // malformed DER signature or unusable key
  }
}

/** Authenticates the request: signature, serial, date and signed-header rules. Certificate trust is checked separately. */
export async function verifyX509Request(parts: SignedRequestParts, options: { region: string; now: Date }): Promise<X509AuthResult> {
  const authorization = headerValue(parts.headers, 'authorization');
  if (authorization === undefined) return fail('missing Authorization header');
  const auth = parseX509Authorization(authorization);
  if (auth === undefined) return fail('the Authorization header is not a valid AWS4-X509-RSA-SHA256 / AWS4-X509-ECDSA-SHA256 authorization');

  const amzDate = headerValue(parts.headers, 'x-amz-date');
  const signedAt = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined || signedAt === undefined) return fail('missing or malformed X-Amz-Date header');
  if (Math.abs(options.now.getTime() - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) {
    return fail(`Signature expired: X-Amz-Date ${amzDate} is more than 5 minutes from the server time`);
  }
  if (auth.scopeDate !== amzDate.slice(0, 8)) return fail('the credential scope date does not match X-Amz-Date');
  if (auth.scopeRegion !== options.region) return fail(`the credential scope region must be ${options.region}`);
  if (auth.scopeService !== SERVICE || auth.scopeTerminator !== 'aws4_request') return fail(`the credential scope must end with /${SERVICE}/aws4_request`);

  const x509 = headerValue(parts.headers, 'x-amz-x509');
  if (x509 === undefined) return fail('missing X-Amz-X509 header');
  const chainHeader = headerValue(parts.headers, 'x-amz-x509-chain');
  const required = ['host', 'x-amz-date', 'x-amz-x509', ...(chainHeader === undefined ? [] : ['x-amz-x509-chain'])];
  const missing = required.filter((h) => !auth.signedHeaders.includes(h));
  if (missing.length > 0) return fail(`SignedHeaders must include ${missing.join(', ')}`);
  if (auth.signedHeaders.some((h) => headerValue(parts.headers, h) === undefined)) return fail('a signed header is missing from the request');

  const leaf = decodeCertificate(x509);
  if (leaf === undefined) return fail('X-Amz-X509 is not a base64 DER certificate');
  const intermediates: X509Certificate[] = [];
  for (const item of chainHeader === undefined ? [] : chainHeader.split(',')) {
    const cert = decodeCertificate(item);
    if (cert === undefined) return fail('X-Amz-X509-Chain holds an entry that is not a base64 DER certificate');
    intermediates.push(cert);
  }
  const serialDecimal = BigInt(`0x${leaf.serialNumber}`).toString(10);
  if (auth.serial !== serialDecimal) return fail('the Credential serial number does not match the certificate in X-Amz-X509');

  const canonical = canonicalRequest(parts, auth.signedHeaders);
  const scope = `${auth.scopeDate}/${auth.scopeRegion}/${auth.scopeService}/${auth.scopeTerminator}`;
  const stringToSign = [auth.algorithm, amzDate, scope, sha256Hex(canonical)].join('\n');
  if (!(await verifySignature(leaf, auth.algorithm, auth.signature, stringToSign))) {
    return fail('the request signature does not match the certificate public key');
  }
  return { ok: true, algorithm: auth.algorithm, leaf, intermediates };
}
