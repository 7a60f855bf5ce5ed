/**
 * SigV4-signed HTTP requests to a VPC Lattice service (signing name `vpc-lattice-svcs`).
 * Lattice does not support payload signing: the request carries
 * `x-amz-content-sha256: UNSIGNED-PAYLOAD`, which @smithy/signature-v4 then uses as the payload
 * hash. SigV4 itself is @smithy/signature-v4's; this module only builds the request and sends it.
 */
import type { Agent } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { send, type FetchLike, type HttpResponse } from './http-transport';

export const LATTICE_SIGNING_NAME = 'vpc-lattice-svcs';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedFetchInput {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  credentials: AwsCredentials;
  region: string;
  service?: string;
  /** PEM CA bundle to trust for an https URL with a private server certificate. */
  ca?: string;
  fetchImpl?: FetchLike;
  /** A connection pool, e.g. a keep-alive https.Agent (node's global agent otherwise). */
  agent?: Agent;
  /** Signing time; defaults to now. */
  signingDate?: Date;
}

function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

/** The request as @smithy/signature-v4 signs it: the URL's parts, its query, and the Host header. */
export function httpRequestFor(url: URL, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined): HttpRequest {
  return new HttpRequest({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query: queryOf(url),
    headers: { ...headers, host: url.host },
    ...(body === undefined ? {} : { body }),
  });
}

/**
 * Signs the request. The canonical path is the path as sent on the wire (already percent-encoded
 * by URL), which SigV4 encodes once more for every service but S3; the receiver does the same.
 */
export async function signLatticeRequest(input: Omit<SignedFetchInput, 'ca' | 'fetchImpl' | 'agent'>): Promise<{ url: URL; method: string; headers: Record<string, string>; body?: string | Uint8Array }> {
  const url = new URL(input.url);
  const method = (input.method ?? 'GET').toUpperCase();
  const lowerCased = Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const request = httpRequestFor(url, method, { ...lowerCased, 'x-amz-content-sha256': UNSIGNED_PAYLOAD }, input.body);
  const signer = new SignatureV4({
    service: input.service ?? LATTICE_SIGNING_NAME,
    region: input.region,
    credentials: input.credentials,
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(request, input.signingDate === undefined ? {} : { signingDate: input.signingDate });
  return { url, method, headers: signed.headers, ...(input.body === undefined ? {} : { body: input.body }) };
}

/** Sends a SigV4-signed request and returns the raw answer (any status; no throwing on 4xx/5xx). */
export async function signedFetch(input: SignedFetchInput): Promise<HttpResponse> {
  const signed = await signLatticeRequest(input);
  return send({
    url: signed.url,
    method: signed.method,
    headers: signed.headers,
    ...(signed.body === undefined ? {} : { body: signed.body }),
    ...(input.ca === undefined ? {} : { ca: input.ca }),
    ...(input.agent === undefined ? {} : { agent: input.agent }),
    ...(input.fetchImpl === undefined ? {} : { fetchImpl: input.fetchImpl }),
  });
}
