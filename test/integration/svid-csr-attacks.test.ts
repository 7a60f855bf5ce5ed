/**
 * CSRs that ask for more than the entry grants, or that are not what they claim, never reach the
 * CA: each ends in SvidIssuanceFailed with the reason, visible on GET /workloads/{id}/svid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePem } from '../../shared/svid/pem';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { createCsrPem, pemToDer } from '../unit/svid-test-ca';
import { api, outcomesOf, outcomeOf, queueDelivery, register } from './svid-support';

let stack: InProcessStack;
beforeAll(async () => {
  stack = await startInProcessStack();
});
afterAll(async () => {
  await stack?.stop();
});

const uri = (value: string) => ({ type: 'url' as const, value });
const dns = (value: string) => ({ type: 'dns' as const, value });

async function tamperedSignature(): Promise<string> {
  const der = pemToDer(await createCsrPem({ subject: 'CN=orders' }));
  const last = der.length - 1;
  der[last] = (der[last] ?? 0) ^ 0x01;
  return encodePem(der, 'CERTIFICATE REQUEST');
}

const garbageBlock = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from('this is not a certificate request at all').toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;

const cases: { name: string; makeCsr: () => Promise<string>; reason: string; mentions: string }[] = [
  { name: 'a foreign URI SAN (another workload)', makeCsr: () => createCsrPem({ sans: [uri('spiffe://example.org/service/billing')] }), reason: 'foreign-uri', mentions: 'spiffe://example.org/service/billing' },
  { name: 'a second URI SAN beside its own', makeCsr: () => createCsrPem({ sans: [uri('spiffe://example.org/service/attacker'), uri('https://evil.example')] }), reason: 'foreign-uri', mentions: 'spiffe://example.org/service/attacker' },
  { name: 'a DNS name the entry does not grant', makeCsr: () => createCsrPem({ sans: [dns('billing.internal.example.org')] }), reason: 'foreign-dns', mentions: 'billing.internal.example.org' },
  { name: 'a SPIFFE ID in the subject', makeCsr: () => createCsrPem({ subject: 'CN=spiffe://example.org/service/billing' }), reason: 'subject-spiffe', mentions: 'spiffe://example.org/service/billing' },
  { name: 'a P-521 key', makeCsr: () => createCsrPem({ kind: 'P-521' }), reason: 'unsupported-key', mentions: 'P-256' },
  { name: 'an RSA-1024 key', makeCsr: () => createCsrPem({ kind: 'RSA-1024' }), reason: 'weak-key', mentions: '2048' },
  { name: 'an Ed25519 key', makeCsr: () => createCsrPem({ kind: 'Ed25519' }), reason: 'unsupported-key', mentions: 'Ed25519' },
  { name: 'a bad signature', makeCsr: tamperedSignature, reason: 'bad-signature', mentions: 'signature' },
  { name: 'garbage in a PEM block', makeCsr: () => Promise.resolve(garbageBlock), reason: 'malformed', mentions: 'PKCS #10' },
];

describe('CSR attacks through POST /workloads/{id}/csr', () => {
  it.each(cases)('$name → SvidIssuanceFailed $reason, shown by GET, nothing sent to the CA', async ({ name, makeCsr, reason, mentions }) => {
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().replace(/^-|-$/g, '');
    const workload = await register(stack, `spiffe://example.org/attack/${slug}`, { dnsNames: ['orders.internal.example.org'] });
    const issueCalls = stack.standIns.acmPca.stats().issueCalls;

    const accepted = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr: await makeCsr() } });
    expect(accepted.status).toBe(202);
    const { requestId } = accepted.body as { requestId: string };
    const outcomes = await outcomesOf(stack, requestId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssuanceFailed']);
    expect(outcomes[0]?.detail).toMatchObject({ workloadId: workload.id, requestId, trigger: 'csr-submitted', reason });
    expect(String(outcomes[0]?.detail.message)).toContain(mentions);
    expect(stack.standIns.acmPca.stats().issueCalls).toBe(issueCalls);

    const shown = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id } });
    expect(shown.status).toBe(409);
    expect(shown.body).toMatchObject({ error: { code: 'SvidIssuanceFailed', details: [{ field: 'csr', rule: reason }] } });
    expect((shown.body as { error: { message: string } }).error.message).toContain(requestId);
  });

  it('a CSR at registration that is not PEM at all (delivered as an event) fails with not-pem', async () => {
    const workload = await register(stack, 'spiffe://example.org/attack/raw-garbage');
    const detail = {
      schemaVersion: 1,
      eventId: '3c0e3c56-8a8f-4d0b-9f4e-2b2f6d7c1a10',
      occurredAt: new Date().toISOString(),
      workloadId: workload.id,
      spiffeId: workload.spiffeId,
      requestId: '9b1f0c2e-6d4a-4e8b-a1c3-5f7e9d2b4a60',
      requestedAt: new Date().toISOString(),
      trigger: 'registration',
      csr: '\u0000\u0001garbage',
    };
    expect(outcomeOf(await stack.invoke('svidIssuer', queueDelivery(detail)))).toEqual({ outcome: 'failed', reason: 'not-pem' });
    expect((await outcomesOf(stack, detail.requestId))[0]?.detail).toMatchObject({ reason: 'not-pem' });
  });
});
