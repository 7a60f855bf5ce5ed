/**
 * The issuer under pressure, against the local ACM PCA through the real SDK client: throttling that
 * recovers and throttling that ends in SvidIssuanceFailed, the IssueCertificate rate limit under a
 * burst (limit 10/s here to keep the test short), the DynamoDB slot scheduler itself on a fake
 * clock, and PCA answers that must end a request explicitly (refused, never ready, not an SVID).
 */
import { ACMPCAClient } from '@aws-sdk/client-acm-pca';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../shared/aws/clients';
import { setting } from '../../shared/config';
import type { issueSvid as IssueSvid } from '../../shared/svid/issue';
import { AcmPcaAdapter, CaCache, type PcaClient } from '../../shared/svid/pca-client';
import { DynamoRateLimiter, RateLimitBacklog } from '../../shared/svid/rate-limiter';
import type { IssuerDeps, issuerDeps as IssuerDepsFactory } from '../../shared/svid/deps';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { createCsrPem } from '../unit/svid-test-ca';
import { api, eventsOf, outcomesOf, register } from './svid-support';

const RATE = 10;
let stack: InProcessStack;
let issueSvid: typeof IssueSvid;
let issuerDeps: typeof IssuerDepsFactory;
beforeAll(async () => {
  stack = await startInProcessStack({ env: { SVID_ISSUE_RATE_PER_SECOND: String(RATE) } });
  // Imported once the stack has set POWERTOOLS_LOG_LEVEL: the shared logger reads it at import.
  ({ issueSvid } = await import('../../shared/svid/issue'));
  ({ issuerDeps } = await import('../../shared/svid/deps'));
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.standIns.acmPca.setFaults({});
});

async function submit(workloadId: string, csr: string): Promise<string> {
  const res = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/csr', path: { id: workloadId }, body: { csr } });
  expect(res.status).toBe(202);
  return (res.body as { requestId: string }).requestId;
}

describe('throttling', () => {
  it('ThrottlingException twice, then success: retried with backoff, one certificate', async () => {
    const workload = await register(stack, 'spiffe://example.org/throttle/recovers');
    const before = stack.standIns.acmPca.stats();
    stack.standIns.acmPca.setFaults({ throttleFirst: 2 });
    const requestId = await submit(workload.id, await createCsrPem());
    const outcomes = await outcomesOf(stack, requestId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssued']);
    const after = stack.standIns.acmPca.stats();
    expect(after.issueCalls - before.issueCalls).toBe(3);
    expect(after.throttled - before.throttled).toBe(2);
    expect(after.issued - before.issued).toBe(1);
  });

  it('throttled on every attempt: pending meanwhile, then SvidIssuanceFailed "throttled" after 5 attempts; a later CSR succeeds', async () => {
    const workload = await register(stack, 'spiffe://example.org/throttle/gives-up');
    const before = stack.standIns.acmPca.stats();
    stack.standIns.acmPca.setFaults({ throttleRate: 1 });
    const requestId = await submit(workload.id, await createCsrPem());

    const pending = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id } });
    expect(pending.status).toBe(404);
    expect(pending.headers['Retry-After']).toBe('1');
    expect(pending.body).toMatchObject({ error: { code: 'SvidPending', message: expect.stringContaining(requestId) } });

    const outcomes = await outcomesOf(stack, requestId);
    expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssuanceFailed']);
    expect(outcomes[0]?.detail).toMatchObject({ reason: 'throttled', message: expect.stringContaining('ThrottlingException') });
    expect(stack.standIns.acmPca.stats().issueCalls - before.issueCalls).toBe(5);
    expect(stack.standIns.acmPca.stats().issued - before.issued).toBe(0);
    const failed = await api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id: workload.id } });
    expect(failed.status).toBe(409);
    expect(failed.body).toMatchObject({ error: { code: 'SvidIssuanceFailed', details: [{ field: 'csr', rule: 'throttled' }] } });

    stack.standIns.acmPca.setFaults({});
    const retry = await submit(workload.id, await createCsrPem());
    expect((await outcomesOf(stack, retry)).map((e) => e['detail-type'])).toEqual(['SvidIssued']);
  });
});

describe('the IssueCertificate rate limit', () => {
  it('hands out slots one spacing apart to concurrent callers, and refuses (without reserving) a slot beyond the wait budget', async () => {
    let now = 1_000_000;
    const slept: number[] = [];
    const limiter = new DynamoRateLimiter(dynamoDocumentClient(), setting('RATE_LIMITS_TABLE'), 'test:scheduler', {
      ratePerSecond: 5,
      jitterAllowanceMs: 0,
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const slots = await Promise.all(Array.from({ length: 10 }, () => limiter.acquire(10_000)));
    expect([...slots].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => 1_000_000 + i * 200));
    expect([...slept].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i * 200));

    await expect(limiter.acquire(1_000)).rejects.toBeInstanceOf(RateLimitBacklog);
    expect(await limiter.acquire(10_000)).toBe(1_002_000);
    now = 1_010_000;
    expect(await limiter.acquire(0)).toBe(1_010_000);
  });
});

describe('PCA answers that end a request', () => {
  /** The production wiring, with the PCA seam wrapped. */
  function depsWith(wrap: (real: PcaClient) => PcaClient, tuning: IssuerDeps['tuning'] = {}): IssuerDeps {
    const deps = issuerDeps();
    return { ...deps, ca: new CaCache(wrap(deps.ca.pca)), tuning };
  }
  async function requestFor(spiffeId: string) {
    const workload = await register(stack, spiffeId);
    const now = new Date().toISOString();
    return {
      schemaVersion: 1 as const,
      eventId: crypto.randomUUID(),
      occurredAt: now,
      workloadId: workload.id,
      spiffeId,
      requestId: crypto.randomUUID(),
      requestedAt: now,
      trigger: 'csr-submitted' as const,
      csr: await createCsrPem(),
    };
  }
  const budget = () => ({ rateWaitDeadline: Date.now() + 5_000 });

  it('a certificate that breaks the X509-SVID rules (a clientAuth-only template) is not stored, is revoked, and the request fails', async () => {
    const deps = depsWith((real) => ({
      caArn: real.caArn,
      describeCa: () => real.describeCa(),
      caCertificate: () => real.caCertificate(),
      getCertificate: (arn) => real.getCertificate(arn),
      revokeCertificate: (serial, reason) => real.revokeCertificate(serial, reason),
      issueCertificate: (input) => real.issueCertificate({ ...input, templateArn: 'arn:aws:acm-pca:::template/EndEntityClientAuthCertificate_APIPassthrough/V1' }),
    }));
    const request = await requestFor('spiffe://example.org/pca/client-auth-only');
    expect(await issueSvid(deps, request, budget())).toEqual({ outcome: 'failed', reason: 'svid-check-failed' });
    const events = await outcomesOf(stack, request.requestId);
    expect(events[0]?.detail).toMatchObject({ reason: 'svid-check-failed', message: expect.stringContaining('extended-key-usage') });
    const revoked = (await eventsOf(stack, 'SvidRevoked')).find((e) => e.detail.workloadId === request.workloadId);
    expect(revoked?.detail).toMatchObject({ reason: 'UNSPECIFIED' });
    expect(stack.standIns.acmPca.revokedAtCa(String(revoked?.detail.serialNumber))).toBe(true);
  });

  it('a certificate that never becomes ready ends as certificate-not-ready after the bounded wait, and is revoked', async () => {
    const inProgress = Object.assign(new Error('The request is still in progress.'), { name: 'RequestInProgressException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    const deps = depsWith(
      (real) => ({ ...bind(real), getCertificate: () => Promise.reject(inProgress) }),
      { maxPollMs: 300, pollBackoff: { baseMs: 20, capMs: 80 } },
    );
    // A fake clock that the waits advance: the bound is on the wait the issuer chose, not on the machine's speed.
    let fakeNow = Date.now();
    const slept: number[] = [];
    const clocked: IssuerDeps = {
      ...deps,
      now: () => new Date(fakeNow),
      sleep: async (ms) => {
        slept.push(ms);
        fakeNow += ms;
      },
    };
    const request = await requestFor('spiffe://example.org/pca/never-ready');
    expect(await issueSvid(clocked, request, { rateWaitDeadline: fakeNow + 5_000 })).toEqual({ outcome: 'failed', reason: 'certificate-not-ready' });
    expect(slept.length).toBeGreaterThan(1);
    expect(slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(300);
    // ACM PCA could still issue it after the wait: it is revoked, so no unrecorded certificate stays valid
    const revoked = (await eventsOf(stack, 'SvidRevoked')).find((e) => e.detail.workloadId === request.workloadId);
    expect(revoked?.detail).toMatchObject({ reason: 'SUPERSEDED' });
    expect(stack.standIns.acmPca.revokedAtCa(String(revoked?.detail.serialNumber))).toBe(true);
  });

  it('a CA that does not exist: pca-rejected, with the service error in the message', async () => {
    const missing = 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/00000000-0000-4000-8000-00000000dead';
    const deps = depsWith(() => new AcmPcaAdapter(new ACMPCAClient({ maxAttempts: 1 }), missing));
    const request = await requestFor('spiffe://example.org/pca/no-such-ca');
    expect(await issueSvid(deps, request, budget())).toEqual({ outcome: 'failed', reason: 'pca-rejected' });
    expect((await outcomesOf(stack, request.requestId))[0]?.detail.message).toContain('ResourceNotFoundException');
  });
});

function bind(real: PcaClient): PcaClient {
  return {
    caArn: real.caArn,
    describeCa: () => real.describeCa(),
    caCertificate: () => real.caCertificate(),
    issueCertificate: (input) => real.issueCertificate(input),
    getCertificate: (arn) => real.getCertificate(arn),
    revokeCertificate: (serial, reason) => real.revokeCertificate(serial, reason),
  };
}
