/**
 * One HTTP(S) request over node:http / node:https. Global fetch cannot trust a private CA per
 * request (its `ca` lives on an undici Agent, and undici is not one of the project's
 * dependencies), while node:https takes `ca` directly; so the client sends through this.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface SendInput {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** PEM bundle of CAs to trust for an https URL (replaces the default roots, as node:https does). */
  ca?: string;
  /** TLS client certificate (PEM, leaf first, then intermediates) and its private key (PKCS#8 PEM): mTLS. */
  clientCertificate?: { certPem: string; keyPem: string };
  /** A connection pool (e.g. a keep-alive https.Agent); node's global agent otherwise. */
  agent?: HttpAgent;
  timeoutMs?: number;
}

/** A fetch-like function (the global fetch, or a test double that rewrites requests). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string | Uint8Array }) => Promise<{
  status: number;
  headers: { forEach(cb: (value: string, key: string) => void): void };
  text(): Promise<string>;
}>;

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function sendHttp(input: SendInput): Promise<HttpResponse> {
  const { url } = input;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported URL scheme ${url.protocol}`));
  }
  const options = {
    method: input.method,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    headers: input.headers,
    ...(url.protocol === 'https:' && input.ca !== undefined ? { ca: input.ca } : {}),
    ...(url.protocol === 'https:' && input.clientCertificate !== undefined ? { cert: input.clientCertificate.certPem, key: input.clientCertificate.keyPem } : {}),
    ...(input.agent === undefined ? {} : { agent: input.agent }),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.setTimeout(input.timeoutMs ?? 30_000, () => req.destroy(new Error(`request to ${url.origin} timed out`)));
    req.on('error', reject);
    req.end(input.body);
  });
}

/** Sends through `fetchImpl` when given (no `ca`, client certificate or agent there), else through node:http(s). */
export async function send(input: SendInput & { fetchImpl?: FetchLike }): Promise<HttpResponse> {
  if (input.fetchImpl === undefined) return sendHttp(input);
  if (input.clientCertificate !== undefined) throw new Error('a client certificate (mTLS) needs node:https; do not pass fetchImpl with it');
  // fetch derives Host from the URL (the same value that was signed) and refuses to let callers set it.
  const headers = Object.fromEntries(Object.entries(input.headers).filter(([name]) => name.toLowerCase() !== 'host'));
  const res = await input.fetchImpl(input.url.toString(), {
    method: input.method,
    headers,
    ...(input.body === undefined ? {} : { body: input.body }),
  });
  const out: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return { status: res.status, headers: out, body: await res.text() };
}
