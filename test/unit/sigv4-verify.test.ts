import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, SubjectAlternativeNameExtension, X509CertificateGenerator } from '../../shared/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportPrivateKeyPem, generateKeyPair, signingParamsFor } from '@trellis/client';
import type { FetchLike } from '@trellis/client';
import { signedFetch, type SignedFetchInput } from '@trellis/client';
import { sigV4PartsFromIncoming, verifySigV4Request, type SigV4Secret } from '../../local/roles-anywhere/sigv4-verify';

const REGION = 'us-west-2';
const SERVICE = 'vpc-lattice-svcs';

interface TestSession extends SigV4Secret {
  principalArn: string;
  expiration: Date;
  sessionToken: string;
}

const session: TestSession = {
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE+/token==',
  expiration: new Date(Date.now() + 60 * 60_000),
  principalArn: 'arn:aws:sts::111122223333:assumed-role/trellis-workload/7a1b',
};
const credentials = { accessKeyId: 'ASIAEXAMPLEKEY234567', secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken };
const sessions = new Map<string, TestSession>([[credentials.accessKeyId, session]]);

/** The verifier's clock; tests move it. */
let clock: () => Date = () => new Date();

async function verifyHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  for await (const _chunk of req) {
    // drain the body: Lattice does not sign it
  }
  const result = await verifySigV4Request({ ...sigV4PartsFromIncoming(req), service: SERVICE, region: REGION, lookup: (k) => sessions.get(k), now: clock() });
  const body = JSON.stringify(result.ok ? { ok: true, principal: result.session.principalArn } : { ok: false, reason: result.reason });
  res.writeHead(result.ok ? 200 : 403, { 'content-type': 'application/json' });
  res.end(body);
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** A fetch that rewrites the signed headers before sending (to tamper with a signed request). */
const rewriting =
  (rewrite: (headers: Record<string, string>) => void): FetchLike =>
  async (url, init) => {
    const headers = { ...init.headers };
    rewrite(headers);
    return fetch(url, { method: init.method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
  };

describe('verifySigV4Request behind a local HTTP server', () => {
  let server: Server;
  let base: string;

  const call = async (extra: Partial<SignedFetchInput> = {}) => {
    const res = await signedFetch({ url: `${base}/billing/invoices%20due?b=2&a=x%2By&a=1`, credentials, region: REGION, service: SERVICE, ...extra });
    return { status: res.status, body: JSON.parse(res.body) as { ok: boolean; reason?: string; principal?: string } };
  };

  beforeAll(async () => {
    server = createServer((req, res) => void verifyHandler(req, res));
    base = `http://${await listen(server)}`;
  });

  afterAll(async () => {
    clock = () => new Date();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('accepts a request signed by signedFetch (encoded path, repeated query keys)', async () => {
    expect(await call()).toEqual({ status: 200, body: { ok: true, principal: session.principalArn } });
  });

  it('accepts a signed POST with a body and extra signed headers', async () => {
    const res = await call({ method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Trellis-Trace': 'abc  def' }, body: '{"amount":42}' });
    expect(res.body).toEqual({ ok: true, principal: session.principalArn });
  });

  it('answers "missing" for an unsigned request', async () => {
    const res = await fetch(`${base}/billing`);
    expect(await res.json()).toEqual({ ok: false, reason: 'missing' });
  });

  it('answers "bad-signature" when a signed header is changed after signing', async () => {
    const res = await call({ headers: { 'x-trellis-caller': 'orders' }, fetchImpl: rewriting((h) => (h['x-trellis-caller'] = 'reviews')) });
    expect(res.body).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('answers "bad-signature" when the signature itself is changed', async () => {
    const flip = rewriting((h) => {
      const auth = h.authorization ?? '';
      h.authorization = auth.slice(0, -1) + (auth.endsWith('0') ? '1' : '0');
    });
    expect((await call({ fetchImpl: flip })).body).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('answers "bad-signature" for a request signed for another region', async () => {
    expect((await call({ region: 'eu-west-1' })).body).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('answers "unknown-key" for an access key no session has', async () => {
    expect((await call({ credentials: { ...credentials, accessKeyId: 'ASIAUNKNOWNKEY234567' } })).body).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('answers "token-mismatch" when the session token is not the session\'s', async () => {
    expect((await call({ credentials: { ...credentials, sessionToken: 'another-token' } })).body).toEqual({ ok: false, reason: 'token-mismatch' });
    expect((await call({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } })).body).toEqual({
      ok: false,
      reason: 'token-mismatch',
    });
  });

  it('answers "expired" once the session has expired (fake clock)', async () => {
    const later = new Date(session.expiration.getTime() + 1_000);
    clock = () => later;
    try {
      expect((await call({ signingDate: later })).body).toEqual({ ok: false, reason: 'expired' });
    } finally {
      clock = () => new Date();
    }
  });

  it('answers "stale-date" for a request signed more than 5 minutes ago', async () => {
    expect((await call({ signingDate: new Date(Date.now() - 6 * 60_000) })).body).toEqual({ ok: false, reason: 'stale-date' });
  });

  it('answers "payload-signing-unsupported" for a request whose payload is signed', async () => {
    const url = new URL(`${base}/billing`);
    const signer = new SignatureV4({ service: SERVICE, region: REGION, credentials, sha256: Sha256 });
    const signed = await signer.sign(
      new HttpRequest({ method: 'POST', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host }, body: '{}' }),
    );
    expect(signed.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    const res = await fetch(url, { method: 'POST', headers: signed.headers, body: '{}' });
    expect(await res.json()).toEqual({ ok: false, reason: 'payload-signing-unsupported' });
  });

  it('answers "malformed" for an authorization that is not AWS4-HMAC-SHA256', async () => {
    const res = await call({ fetchImpl: rewriting((h) => (h.authorization = (h.authorization ?? '').replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'))) });
    expect(res.body).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('signedFetch over HTTPS with a local CA', () => {
  let caPem: string;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const caKeys = await generateKeyPair('P-256');
    const ca = await X509CertificateGenerator.createSelfSigned({
      name: 'CN=Local Test CA',
      keys: caKeys,
      signingAlgorithm: signingParamsFor(caKeys.privateKey),
      extensions: [new BasicConstraintsExtension(true, undefined, true), new KeyUsagesExtension(KeyUsageFlags.keyCertSign, true)],
    });
    const serverKeys = await generateKeyPair('P-256');
    const cert = await X509CertificateGenerator.create({
      subject: 'CN=billing.local',
      issuer: ca.subject,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: signingParamsFor(caKeys.privateKey),
      extensions: [new SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]), new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true)],
    });
    caPem = ca.toString('pem');
    server = createHttpsServer({ key: await exportPrivateKeyPem(serverKeys.privateKey), cert: cert.toString('pem') }, (req, res) => void verifyHandler(req, res));
    base = `https://${await listen(server)}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('trusts the server through the `ca` option and is verified', async () => {
    const res = await signedFetch({ url: `${base}/rates?currency=EUR`, credentials, region: REGION, service: SERVICE, ca: caPem });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ ok: true, principal: session.principalArn });
  });

  it('fails the TLS handshake without the `ca` option', async () => {
    await expect(signedFetch({ url: `${base}/rates`, credentials, region: REGION, service: SERVICE })).rejects.toThrow(/self[- ]signed|unable to verify|local issuer/i);
  });
});

describe('verifySigV4Request on request parts', () => {
  it('requires host and x-amz-date among the signed headers', async () => {
    const result = await verifySigV4Request({
      method: 'GET',
      path: '/',
      query: {},
      headers: {
        host: 'svc.local',
        'x-amz-date': '20250101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20250101/${REGION}/${SERVICE}/aws4_request, SignedHeaders=x-amz-date, Signature=${'0'.repeat(64)}`,
      },
      service: SERVICE,
      region: REGION,
      lookup: (k) => sessions.get(k),
      now: new Date('2025-01-01T00:00:00Z'),
    });
    expect(result).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
