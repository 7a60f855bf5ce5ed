/**
 * Revocation against the stand-ins: a workload with a Roles Anywhere session calls Billing through
 * the local Lattice data plane (allowed) → POST /workloads/{id}/svid/revoke → the next call with
 * the SAME credentials is denied within 5 s (the auth policy's deny on the revoked certificate's
 * sessions, not a shortcut); the local CA publishes a signed CRL to the S3 stand-in, the CRL
 * import (on the CA's CRL generation event) imports it into the local Roles Anywhere, and a new
 * CreateSession with the revoked certificate is refused; the same SPIFFE ID with a new certificate
 * is allowed; once the revoked certificate's notAfter has passed (fake clock), the reconcile drops
 * its deny entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListCrlsCommand, RolesAnywhereClient } from '@aws-sdk/client-rolesanywhere';
import { RolesAnywhereError, signedFetch, Workload, type RolesAnywhereSettings, type SessionCredentials } from '@trellis/client';
import { X509Crl } from '../../shared/x509';
import { LOCAL_CRL_BUCKET } from '../../local/stand-ins';
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
  stack = await startInProcessStack({ dataPlane: true, crlEvents: true });
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
  /** The session made before the revocation: the same credentials are used after it. */
  let session: SessionCredentials;
  const callWithSession = async (): Promise<number> =>
    (await signedFetch({ url: billingUrl, region: LOCAL_REGION, credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken }, ca })).status;

  it('a session of the Orders SVID calls Billing: allowed', async () => {
    orders = await Workload.create({ spiffeId: ORDERS });
    workloadId = (await register(stack, ORDERS, { csr: orders.csrPem })).id;
    revoked = await currentSvid(workloadId);
    orders.useSvid({ certificatePem: revoked.certificatePem });
    session = await orders.credentials(settings);
    expect(await callWithSession()).toBe(200);
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
      status = await callWithSession();
      if (status === 403) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(403);
    const events = (await eventsOf(stack, 'SvidRevoked')).filter((e) => e.detail.serialNumber === revoked.serialNumber);
    expect(events[0]?.detail).toMatchObject({ spiffeId: ORDERS, reason: 'KEY_COMPROMISE', notAfter: revoked.notAfter });
    expect(policyOfBilling()).toContain(`*:${revoked.serialNumber}`);
  });

  it('the CA published a signed CRL listing the certificate, the CRL import put it into the trust anchor, and CreateSession refuses the certificate', async () => {
    await stack.bus.waitForIdle(20_000);
    const caId = stack.standIns.acmPca.caArn.slice(stack.standIns.acmPca.caArn.lastIndexOf('/') + 1);
    const der = await stack.standIns.s3.get(LOCAL_CRL_BUCKET, `crl/${caId}.crl`);
    expect(der).toBeDefined();
    const crl = new X509Crl(new Uint8Array(der as Buffer));
    expect(crl.findRevoked(revoked.serialNumber)).not.toBeNull();
    expect(await crl.verify({ publicKey: stack.standIns.acmPca.ca.certificate.publicKey })).toBe(true);

    const rolesAnywhere = new RolesAnywhereClient({ endpoint: stack.standIns.rolesAnywhere.endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const listed = await rolesAnywhere.send(new ListCrlsCommand({}));
      expect(listed.crls?.map((c) => [c.name, c.enabled, c.trustAnchorArn])).toEqual([['trellis-local-ca', true, LOCAL_IDENTITY.trustAnchorArn]]);
    } finally {
      rolesAnywhere.destroy();
    }
    // A fresh session for the revoked certificate (the cached one is dropped by useSvid).
    orders.useSvid({ certificatePem: revoked.certificatePem });
    const refused = await orders.credentials(settings).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RolesAnywhereError);
    expect((refused as RolesAnywhereError).code).toBe('AccessDeniedException');
    expect((refused as RolesAnywhereError).message).toContain('revoked');
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
    expect(await callWithSession()).toBe(403);
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
