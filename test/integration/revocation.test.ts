/**
 * Revocation against the stand-ins: a workload with a Roles Anywhere session calls Billing through
 * the local Lattice data plane (allowed) → POST /workloads/{id}/svid/revoke → the next call with
 * the SAME credentials is denied within 5 s (the auth policy's deny on the revoked certificate's
 * sessions, not a shortcut); the same SPIFFE ID with a new certificate is allowed; once the revoked
 * certificate's notAfter has passed (fake clock), the reconcile drops its deny entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workload, type RolesAnywhereSettings } from '@trellis/client';
import { LOCAL_IDENTITY, LOCAL_REGION } from '../../local/stand-ins';
import { logger } from '../../shared/logger';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { api, eventsOf, register } from './svid-support';

const ORDERS = 'spiffe://example.org/service/orders';

let stack: InProcessStack;
let settings: RolesAnywhereSettings;
let billingUrl: string;
let ca: string;

interface SvidBody {
  serialNumber: string;
  notAfter: string;
  certificatePem: string;
  chainPem: string;
}

async function currentSvid(id: string): Promise<SvidBody> {
  await stack.bus.waitForIdle(20_000);
  const res = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as SvidBody;
}

const policyOfBilling = (): string => {
  const billing = stack.standIns.lattice.store.getServiceByName('billing');
  return billing === undefined ? '' : (stack.standIns.lattice.store.getAuthPolicy(billing.arn)?.policy ?? '');
};

beforeAll(async () => {
  logger.setLogLevel('ERROR');
  stack = await startInProcessStack({ dataPlane: true });
  const dataPlane = stack.dataPlane;
  if (dataPlane === undefined) throw new Error('the data plane did not start');
  billingUrl = `${dataPlane.services.billing as string}/charges`;
  ca = dataPlane.caPem;
  settings = {
    endpoint: stack.standIns.rolesAnywhere.endpoint,
    region: LOCAL_REGION,
    trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
    profileArn: LOCAL_IDENTITY.profileArn,
    roleArn: LOCAL_IDENTITY.workloadRoleArn,
  };
  const grant = await api(stack, 'grants', { method: 'POST', resource: '/grants', body: { service: 'billing', caller: ORDERS } });
  expect(grant.status, JSON.stringify(grant.body)).toBe(201);
  await stack.bus.waitForIdle(20_000);
});

afterAll(async () => {
  await stack?.stop();
});

describe('revocation that reaches Lattice', { timeout: 60_000 }, () => {
  let workloadId: string;
  let revoked: SvidBody;
  let orders: Workload;

  it('a session of the Orders SVID calls Billing: allowed', async () => {
    orders = await Workload.create({ spiffeId: ORDERS });
    workloadId = (await register(stack, ORDERS, { csr: orders.csrPem })).id;
    revoked = await currentSvid(workloadId);
    orders.useSvid({ certificatePem: revoked.certificatePem });
    const res = await orders.call(billingUrl, settings, { ca });
    expect(res.status, res.body.toString()).toBe(200);
  });

  it('rejects a reason outside the RevocationReason values with a 400 naming the field and the values', async () => {
    const res = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/svid/revoke', path: { id: workloadId }, body: { reason: 'stolen' } });
    expect(res.status).toBe(400);
    const error = (res.body as { error: { details: { field: string; rule: string; message: string }[] } }).error;
    expect(error.details[0]).toMatchObject({ field: 'reason', rule: 'enum' });
    expect(error.details[0]?.message).toContain('keyCompromise');
  });

  it('revoke → SvidRevoked (serial, SPIFFE ID, reason, notAfter) → the same credentials are denied within 5 s', async () => {
    const started = Date.now();
    const res = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/svid/revoke', path: { id: workloadId }, body: { reason: 'keyCompromise' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ serialNumber: revoked.serialNumber, revocationReason: 'KEY_COMPROMISE', notAfter: revoked.notAfter });
    expect(stack.standIns.acmPca.revokedCertificates().map((c) => [c.serialHex, c.revocation?.reason])).toContainEqual([revoked.serialNumber, 'KEY_COMPROMISE']);
    let status = 0;
    while (Date.now() - started < 5_000) {
      status = (await orders.call(billingUrl, settings, { ca })).status;
      if (status === 403) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(403);
    const events = (await eventsOf(stack, 'SvidRevoked')).filter((e) => e.detail.serialNumber === revoked.serialNumber);
    expect(events[0]?.detail).toMatchObject({ spiffeId: ORDERS, reason: 'KEY_COMPROMISE', notAfter: revoked.notAfter });
    expect(policyOfBilling()).toContain(`*:${revoked.serialNumber}`);
  });

  it('the policy of every managed service carries the deny (rates too, where Orders has no grant)', () => {
    const rates = stack.standIns.lattice.store.getServiceByName('rates');
    expect(stack.standIns.lattice.store.getAuthPolicy(rates?.arn ?? '')?.policy ?? '').not.toBe('');
    // Rates has no allow at all: its policy is the deny-all document, which already refuses every session.
  });

  it('GET /svid says the SVID was revoked; the same SPIFFE ID with a new key and certificate is allowed', async () => {
    const shown = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id: workloadId } });
    expect(shown.status).toBe(409);
    expect(JSON.stringify(shown.body)).toContain('revoked');
    const renewed = await Workload.create({ spiffeId: ORDERS });
    const submitted = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/csr', path: { id: workloadId }, body: { csr: renewed.csrPem } });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const next = await currentSvid(workloadId);
    expect(next.serialNumber).not.toBe(revoked.serialNumber);
    renewed.useSvid({ certificatePem: next.certificatePem });
    expect((await renewed.call(billingUrl, settings, { ca })).status).toBe(200);
    // The revoked session stays denied meanwhile.
    expect((await orders.call(billingUrl, settings, { ca })).status).toBe(403);
  });

  it('after the revoked certificate\'s notAfter (fake clock) the reconcile drops its deny entry', async () => {
    const { policyDeps } = await import('../../shared/policy-sync/deps');
    const { reconcileAll } = await import('../../shared/policy-sync/reconcile');
    const deps = policyDeps();
    const revocations = deps.revocations;
    if (revocations === undefined) throw new Error('no revocation store');
    expect((await revocations.all()).map((r) => r.serialNumber)).toContain(revoked.serialNumber);
    const later = new Date(Date.parse(revoked.notAfter) + 1000);
    await reconcileAll({ ...deps, now: () => later });
    expect((await revocations.all()).map((r) => r.serialNumber)).not.toContain(revoked.serialNumber);
    expect(policyOfBilling()).not.toContain(revoked.serialNumber);
  });
});
