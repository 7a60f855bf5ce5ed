/**
 * After issuance: renewal at half-life from the stored CSR (fake clock injected as `now`), and
 * revocation of every certificate when the workload is deleted. Requests that stay pending are the
 * watchdog's (svid-watchdog.test.ts).
 */
import { X509Certificate } from '../../shared/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SvidDeps } from '../../shared/svid/deps';
import type { renewDueSvids as RenewDueSvids } from '../../shared/svid/renew';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { createCsrPem } from '../unit/svid-test-ca';
import { api, eventsOf, outcomesOf, outcomeOf, queueDelivery, register, ruleEvent } from './svid-support';

let stack: InProcessStack;
let renewDueSvids: typeof RenewDueSvids;
let deps: SvidDeps;

beforeAll(async () => {
  stack = await startInProcessStack();
  // Imported once the stack has set the environment (the shared logger reads its level at import).
  ({ renewDueSvids } = await import('../../shared/svid/renew'));
  deps = (await import('../../shared/svid/deps')).svidDeps();
});
afterAll(async () => {
  await stack?.stop();
});

interface SvidBody {
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  certificatePem: string;
  status: string;
  latestRequest: { trigger: string; requestId: string };
}

async function getSvid(id: string): Promise<{ status: number; body: unknown }> {
  const res = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id } });
  return res;
}

const ORDERS = 'spiffe://example.org/service/renewing';
const at = (base: string, seconds: number): Date => new Date(new Date(base).getTime() + seconds * 1000);
const spki = (pem: string): string => Buffer.from(new X509Certificate(pem).publicKey.rawData).toString('hex');

describe('renewal and revocation', () => {
  let workloadId: string;
  let first: SvidBody;
  let second: SvidBody;

  beforeAll(async () => {
    const workload = await register(stack, ORDERS, { csr: await createCsrPem({ subject: 'CN=renewing' }), x509SvidTtlSeconds: 600 });
    workloadId = workload.id;
    await stack.bus.waitForIdle(20_000);
    first = (await getSvid(workloadId)).body as SvidBody;
    expect(first.serialNumber).toMatch(/^[0-9a-f]+$/);
  });

  it('renews nothing before half of the lifetime', async () => {
    expect(await renewDueSvids(deps, at(first.notBefore, 299))).toEqual({ renewed: [] });
  });

  it('renews at half of the lifetime from the stored CSR, emitting SvidIssued again', async () => {
    const report = await renewDueSvids(deps, at(first.notBefore, 300));
    expect(report).toEqual({ renewed: [workloadId] });
    await stack.bus.waitForIdle(20_000);
    const requested = (await eventsOf(stack, 'SvidRequested')).filter((e) => e.detail.workloadId === workloadId);
    expect(requested.map((e) => e.detail.trigger)).toEqual(['registration', 'renewal']);
    const renewalId = String(requested[1]?.detail.requestId);
    const outcomes = await outcomesOf(stack, renewalId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssued']);
    expect(outcomes[0]?.detail).toMatchObject({ trigger: 'renewal', workloadId });

    second = (await getSvid(workloadId)).body as SvidBody;
    expect(second.serialNumber).toBe(outcomes[0]?.detail.serialNumber);
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(second.latestRequest).toMatchObject({ trigger: 'renewal', requestId: renewalId });
    expect(new Date(second.notAfter).getTime() - new Date(second.notBefore).getTime()).toBe(600_000);
    // The same key: renewal reuses the CSR, the private key never left the workload.
    expect(spki(second.certificatePem)).toBe(spki(first.certificatePem));
  });

  it('does not renew the new SVID before its own half-life, nor twice in one pass', async () => {
    expect(await renewDueSvids(deps, at(second.notBefore, 299))).toEqual({ renewed: [] });
  });

  it('the scheduled function runs a pass (wiring)', async () => {
    expect(await stack.invoke('svidRenewer', ruleEvent('Scheduled Event', {}))).toEqual({ renewed: [] });
  });

  it('deleting the workload revokes every certificate it was issued, with one SvidRevoked each', async () => {
    const deleted = await api(stack, 'workloads', { method: 'DELETE', resource: '/workloads/{id}', path: { id: workloadId } });
    expect(deleted.status).toBe(204);
    await stack.bus.waitForIdle(20_000);
    const revoked = (await eventsOf(stack, 'SvidRevoked')).filter((e) => e.detail.workloadId === workloadId);
    expect(revoked.map((e) => e.detail.serialNumber).sort()).toEqual([first.serialNumber, second.serialNumber].sort());
    expect(revoked.every((e) => e.detail.reason === 'CESSATION_OF_OPERATION' && e.detail.spiffeId === ORDERS)).toBe(true);
    expect(stack.standIns.acmPca.revokedAtCa(first.serialNumber)).toBe(true);
    expect(stack.standIns.acmPca.revokedAtCa(second.serialNumber)).toBe(true);
    expect((await getSvid(workloadId)).status).toBe(404);

    // A redelivery revokes nothing more and announces nothing more.
    const workloadDeleted = (await eventsOf(stack, 'WorkloadDeleted')).find((e) => e.detail.workloadId === workloadId);
    expect(await stack.invoke('svidRevoker', ruleEvent('WorkloadDeleted', workloadDeleted?.detail))).toEqual({ revoked: [] });
    expect((await eventsOf(stack, 'SvidRevoked')).filter((e) => e.detail.workloadId === workloadId)).toHaveLength(2);
  });

  it('a request for the deleted workload ends as workload-deleted, without reaching the CA', async () => {
    const calls = stack.standIns.acmPca.stats().issueCalls;
    const now = new Date().toISOString();
    const detail = {
      schemaVersion: 1,
      eventId: crypto.randomUUID(),
      occurredAt: now,
      workloadId,
      spiffeId: ORDERS,
      requestId: crypto.randomUUID(),
      requestedAt: now,
      trigger: 'csr-submitted',
      csr: await createCsrPem(),
    };
    expect(outcomeOf(await stack.invoke('svidIssuer', queueDelivery(detail)))).toEqual({ outcome: 'failed', reason: 'workload-deleted' });
    expect((await outcomesOf(stack, detail.requestId))[0]?.detail).toMatchObject({ reason: 'workload-deleted' });
    expect(stack.standIns.acmPca.stats().issueCalls).toBe(calls);
  });

  it('the same SPIFFE ID registered again gets a fresh SVID, which stays valid', async () => {
    const again = await register(stack, ORDERS, { csr: await createCsrPem({ subject: 'CN=renewing' }) });
    expect(again.id).toBe(workloadId);
    await stack.bus.waitForIdle(20_000);
    const svid = (await getSvid(workloadId)).body as SvidBody;
    expect(svid.latestRequest.trigger).toBe('registration');
    expect([first.serialNumber, second.serialNumber]).not.toContain(svid.serialNumber);
    expect(stack.standIns.acmPca.revokedAtCa(svid.serialNumber)).toBe(false);
  });
});

describe('requests that stay pending', () => {
  it('are left to the watchdog by the renewer (test/integration/svid-watchdog.test.ts)', async () => {
    const workload = await register(stack, 'spiffe://example.org/service/stuck');
    const stored = await deps.workloads.get(workload.id);
    if (!stored) throw new Error(`workload ${workload.id} was just registered`);
    const requestedAt = new Date();
    const request = { requestId: crypto.randomUUID(), csr: await createCsrPem(), requestedAt: requestedAt.toISOString(), trigger: 'csr-submitted' as const };
    // Recorded without its event: as if every delivery of SvidRequested had been lost.
    await deps.svids.recordRequest(stored, request, at(request.requestedAt, 30), [], requestedAt);
    expect((await renewDueSvids(deps, at(request.requestedAt, 3600))).renewed).not.toContain(workload.id);
    expect((await getSvid(workload.id)).body).toMatchObject({ error: { code: 'SvidPending' } });
    expect(await outcomesOf(stack, request.requestId)).toEqual([]);
  });
});
