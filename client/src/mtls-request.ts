/**
 * HTTPS requests that authenticate with the workload's X.509-SVID as a TLS client certificate (mTLS),
 * for endpoints that accept SVIDs directly (the local Lattice data plane does; AWS Lattice itself
 * authenticates with SigV4 only: use signedFetch with Roles Anywhere credentials there).
 * The TLS itself is node:https's; this module only turns the WebCrypto key into the PEM node:tls takes.
 */
import { KeyObject, type webcrypto } from 'node:crypto';
import type { Agent } from 'node:http';
import { sendHttp, type HttpResponse } from './http-transport';

export interface MtlsFetchInput {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The SVID (leaf) PEM, optionally followed by intermediates. */
  certificatePem: string;
  /** Intermediate CA PEMs sent after the leaf. */
  chainPems?: string[];
  /** The SVID's private key: a WebCrypto key (extractable or not) or a PKCS#8 PEM. */
  privateKey: webcrypto.CryptoKey | string;
  /** PEM CA bundle to trust for the server certificate. */
  ca?: string;
  /**
   * A connection pool. A keep-alive agent reuses connections by TLS options, the client certificate
   * included, so one agent may serve several identities.
   */
  agent?: Agent;
}

/**
 * PKCS#8 PEM of a key for node:tls. KeyObject.from takes the key's handle, so a non-extractable
 * WebCrypto key works too: the key stays in this process either way.
 */
export function privateKeyPemFor(key: webcrypto.CryptoKey | string): string {
  if (typeof key === 'string') return key;
  return KeyObject.from(key).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Sends the request over mTLS and returns the raw answer (any status). */
export async function mtlsFetch(input: MtlsFetchInput): Promise<HttpResponse> {
  const url = new URL(input.url);
  if (url.protocol !== 'https:') throw new Error(`mTLS needs an https URL, not ${url.protocol}`);
  return sendHttp({
    url,
    method: (input.method ?? 'GET').toUpperCase(),
    headers: { ...(input.headers ?? {}) },
    ...(input.body === undefined ? {} : { body: input.body }),
    clientCertificate: { certPem: [input.certificatePem.trim(), ...(input.chainPems ?? []).map((p) => p.trim())].join('\n'), keyPem: privateKeyPemFor(input.privateKey) },
    ...(input.ca === undefined ? {} : { ca: input.ca }),
    ...(input.agent === undefined ? {} : { agent: input.agent }),
  });
}
