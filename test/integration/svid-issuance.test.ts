/**
 * X.509-SVID issuance end to end on the in-process stack: registration or POST /workloads/{id}/csr
 * → SvidRequested → the issuer → the local ACM PCA through @aws-sdk/client-acm-pca → SvidIssued,
 * checked with openssl against GET /bundle; authorisation; idempotent redelivery; every response
 * checked against docs/openapi.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from '../../shared/x509';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { createCsrPem } from '../unit/svid-test-ca';
import { ORDERS_ROLE, OTHER_ROLE, api, eventsOf, openssl, opensslCsr, outcomesOf, outcomeOf, queueDelivery, register, type Reply } from './svid-support';

let stack: InProcessStack;

beforeAll(async () => {
  stack = await startInProcessStack();
});
afterAll(async () => {
  await stack?.stop();
});

type ApiArgs = Parameters<typeof api>[2];
/** A call to the SVID API (api() checks every answer against the OpenAPI document). */
const svidApi = (call: ApiArgs): Promise<Reply> => api(stack, 'svidApi', call);

interface SvidBody {
  workloadId: string;
  spiffeId: string;
  status: string;
  certificatePem: string;
  chainPem: string;
  trustBundlePem: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  renewAfter: string;
  latestRequest: { requestId: string; trigger: string; status: string };
}

const ORDERS = 'spiffe://example.org/service/orders';

describe('a CSR given at registration', () => {
  let workloadId: string;
  let svid: SvidBody;
  let before: number;

  beforeAll(async () => {
    before = Date.now();
    const workload = await register(stack, ORDERS, { csr: await opensslCsr('/CN=orders'), x509SvidTtlSeconds: 900, dnsNames: ['orders.internal.example.org'] });
    workloadId = workload.id;
    await stack.bus.waitForIdle(20_000);
    const res = await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: workloadId } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    svid = res.body as SvidBody;
  });

  it('emits SvidRequested from the registration write, then SvidIssued with the same request id', async () => {
    const requested = (await eventsOf(stack, 'SvidRequested')).find((e) => e.detail.workloadId === workloadId);
    expect(requested?.detail).toMatchObject({ spiffeId: ORDERS, trigger: 'registration', requestId: svid.latestRequest.requestId });
    const outcomes = await outcomesOf(stack, svid.latestRequest.requestId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssued']);
    expect(outcomes[0]?.detail).toMatchObject({ workloadId, spiffeId: ORDERS, trigger: 'registration', serialNumber: svid.serialNumber, notBefore: svid.notBefore, notAfter: svid.notAfter });
    expect(svid).toMatchObject({ workloadId, spiffeId: ORDERS, status: 'issued', latestRequest: { trigger: 'registration', status: 'issued' } });
  });

  it('verifies with openssl against GET /bundle', async () => {
    const bundle = await svidApi({ method: 'GET', resource: '/bundle' });
    expect(bundle.status).toBe(200);
    expect(bundle.headers['Content-Type']).toBe('application/x-pem-file');
    expect(bundle.body).toBe(svid.trustBundlePem);
    expect(String(bundle.body).trim()).toBe(stack.standIns.acmPca.caCertificatePem.trim());
    const out = await openssl(['verify', '-CAfile', { file: 'bundle.pem', content: String(bundle.body) }, { file: 'leaf.pem', content: svid.certificatePem }]);
    expect(out.trim()).toMatch(/leaf\.pem: OK$/);
    // and with the chain GetCertificate returned
    expect((await openssl(['verify', '-CAfile', { file: 'chain.pem', content: svid.chainPem }, { file: 'leaf.pem', content: svid.certificatePem }])).trim()).toMatch(/OK$/);
  });

  it('has the SPIFFE ID as its only URI SAN, the registered DNS name, CN from the SPIFFE ID, CA:FALSE, KU and EKU of an X509-SVID', async () => {
    const text = await openssl(['x509', '-noout', '-text', '-in', { file: 'leaf.pem', content: svid.certificatePem }]);
    const san = /X509v3 Subject Alternative Name:.*\n\s*(.*)\n/.exec(text)?.[1]?.trim();
    expect(san).toBe(`URI:${ORDERS}, DNS:orders.internal.example.org`);
    expect(text.match(/URI:/g)).toHaveLength(1);
    expect(text).toMatch(/Subject: CN\s?=\s?orders\n/);
    expect(text).toMatch(/X509v3 Basic Constraints:.*\n\s*CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s*Digital Signature, Key Encipherment\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:.*\n\s*TLS Web Server Authentication, TLS Web Client Authentication\n/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toContain(`Serial Number:`);
  });

  it('lives exactly its TTL, from an explicit NotBefore at most the skew allowance before issuance', () => {
    const cert = new X509Certificate(svid.certificatePem);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(900_000);
    expect(cert.notBefore.toISOString()).toBe(svid.notBefore);
    expect(cert.notBefore.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 10_000);
    expect(cert.notBefore.getTime()).toBeLessThanOrEqual(Date.now() - 10_000 + 1000);
    expect(cert.serialNumber.toLowerCase()).toBe(svid.serialNumber);
    expect(svid.renewAfter).toBe(new Date(cert.notBefore.getTime() + 450_000).toISOString());
  });

  it('a redelivery of the same SvidRequested issues nothing more', async () => {
    const requested = (await eventsOf(stack, 'SvidRequested')).find((e) => e.detail.requestId === svid.latestRequest.requestId);
    const issuedBefore = stack.standIns.acmPca.stats().issued;
    const again = outcomeOf(await stack.invoke('svidIssuer', queueDelivery(requested?.detail)));
    expect(again).toEqual({ outcome: 'duplicate' });
    expect(stack.standIns.acmPca.stats().issued).toBe(issuedBefore);
    expect(await outcomesOf(stack, svid.latestRequest.requestId)).toHaveLength(1);
  });
});

describe('POST /workloads/{id}/csr', () => {
  it('answers 202 with a request id that ends in SvidIssued, and GET serves the new SVID', async () => {
    const workload = await register(stack, 'spiffe://example.org/service/submit');
    const none = await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id } });
    expect(none.status).toBe(404);
    expect((none.body as { error: { code: string } }).error.code).toBe('SvidNotRequested');

    const accepted = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr: await createCsrPem({ subject: 'CN=submit' }) } });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.Location).toBe(`/workloads/${workload.id}/svid`);
    const { requestId } = accepted.body as { requestId: string };
    expect(accepted.body).toMatchObject({ workloadId: workload.id, status: 'pending' });
    const outcomes = await outcomesOf(stack, requestId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssued']);
    const got = await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id } });
    expect(got.body).toMatchObject({ status: 'issued', serialNumber: outcomes[0]?.detail.serialNumber, latestRequest: { requestId, trigger: 'csr-submitted' } });
  });

  it('two concurrent deliveries of a new request give one certificate and one SvidIssued', async () => {
    const workload = await register(stack, 'spiffe://example.org/service/twice');
    const requestId = '7d3c1b4e-2f0a-4c5d-8e9f-0a1b2c3d4e5f';
    const detail = {
      schemaVersion: 1,
      eventId: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
      occurredAt: new Date().toISOString(),
      workloadId: workload.id,
      spiffeId: workload.spiffeId,
      requestId,
      requestedAt: new Date().toISOString(),
      trigger: 'csr-submitted',
      csr: await createCsrPem({ subject: 'CN=twice' }),
    };
    const issuedBefore = stack.standIns.acmPca.stats().issued;
    const results = (await Promise.all([stack.invoke('svidIssuer', queueDelivery(detail)), stack.invoke('svidIssuer', queueDelivery(detail))])).map(outcomeOf);
    expect(results).toEqual(expect.arrayContaining([{ outcome: 'issued', serialNumber: expect.stringMatching(/^[0-9a-f]{32}$/) }]));
    expect(stack.standIns.acmPca.stats().issued - issuedBefore).toBe(1);
    expect((await outcomesOf(stack, requestId)).map((e) => e['detail-type'])).toEqual(['SvidIssued']);
  });

  it('refuses a body without a PEM CSR (400 naming the field) and an unknown workload (404)', async () => {
    const workload = await register(stack, 'spiffe://example.org/service/badbody');
    const bad = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr: 'hello' } });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { details: { field: string; rule: string }[] } }).error.details).toEqual([expect.objectContaining({ field: 'csr', rule: 'format' })]);
    const extra = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr: await createCsrPem(), spiffeId: 'spiffe://example.org/x' } });
    expect(extra.status).toBe(400);
    const missing = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: `wl-${'0'.repeat(32)}` }, body: { csr: await createCsrPem() } });
    expect(missing.status).toBe(404);
    expect((await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: 'nope' } })).status).toBe(404);
  });
});

describe('authorisation', () => {
  it('lets administrators and the selectors principals (also as an assumed-role session) submit and read; 403 for anybody else', async () => {
    const workload = await register(stack, 'spiffe://example.org/service/guarded');
    const csr = await createCsrPem({ subject: 'CN=guarded' });
    const forbidden = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr }, callerArn: OTHER_ROLE });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'Forbidden', message: expect.stringContaining('selectors.awsPrincipalArns') });
    const readForbidden = await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id }, callerArn: 'arn:aws:sts::111122223333:assumed-role/reviews/i-123' });
    expect(readForbidden.status).toBe(403);

    const accepted = await svidApi({ method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr }, callerArn: ORDERS_ROLE });
    expect(accepted.status).toBe(202);
    await stack.bus.waitForIdle(20_000);
    const read = await svidApi({ method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id }, callerArn: 'arn:aws:sts::111122223333:assumed-role/orders/i-0abc' });
    expect(read.status).toBe(200);
    // the bundle is public to any authenticated caller
    expect((await svidApi({ method: 'GET', resource: '/bundle', callerArn: OTHER_ROLE })).status).toBe(200);
  });
});

describe('GET /bundle', () => {
  it('serves the SPIFFE bundle format: one x509-svid JWK whose x5c is the CA certificate', async () => {
    const res = await svidApi({ method: 'GET', resource: '/bundle', query: { format: 'spiffe' } });
    expect(res.status).toBe(200);
    const bundle = res.body as { keys: { kty: string; use: string; crv: string; x5c: string[] }[]; spiffe_refresh_hint: number };
    expect(bundle.keys).toHaveLength(1);
    expect(bundle.keys[0]).toMatchObject({ kty: 'EC', use: 'x509-svid', crv: 'P-256' });
    const der = Buffer.from(bundle.keys[0]?.x5c[0] ?? '', 'base64');
    expect(new X509Certificate(der).toString('pem')).toBe(new X509Certificate(stack.standIns.acmPca.caCertificatePem).toString('pem'));
    expect(bundle.spiffe_refresh_hint).toBe(300);
  });

  it('refuses an unknown format', async () => {
    const res = await svidApi({ method: 'GET', resource: '/bundle', query: { format: 'jwks' } });
    expect(res.status).toBe(400);
    expect((res.body as { error: { details: { field: string }[] } }).error.details[0]?.field).toBe('format');
  });
});
