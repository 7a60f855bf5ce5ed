/**
 * Nothing stays pending: the issuer's last queue receive ends a request it could not finish, the
 * watchdog re-drives what stays pending through the same idempotent path (one certificate per
 * request, also across a crash between IssueCertificate and recording its answer), and a
 * certificate issued but never recorded is found and used, or revoked, where the CA can list
 * (the local ACM PCA), while on AWS (no listing) the request ends `issuance-unconfirmed` rather than
 * risk a second certificate.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDocumentClient } from '../../shared/aws/clients';
import { setting } from '../../shared/config';
import type { IssuerDeps, issuerDeps as IssuerDepsFactory } from '../../shared/svid/deps';
import type { redrivePending as RedrivePending } from '../../shared/svid/watchdog';
import type { issueSvid as IssueSvid } from '../../shared/svid/issue';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { createCsrPem } from '../unit/svid-test-ca';
import { api, eventsOf, outcomesOf, register } from './svid-support';

let stack: InProcessStack;
let issuerDeps: typeof IssuerDepsFactory;
let redrivePending: typeof RedrivePending;
let issueSvid: typeof IssueSvid;
const BOUND_MS = 120_000;

beforeAll(async () => {
  // Queue messages come back after 20 ms, so five receives take no time.
  stack = await startInProcessStack({ visibilityTimeoutMs: 20 });
  ({ issuerDeps } = await import('../../shared/svid/deps'));
  ({ redrivePending } = await import('../../shared/svid/watchdog'));
  ({ issueSvid } = await import('../../shared/svid/issue'));
});
afterAll(async () => {
  await stack?.stop();
});

/**
 * The watchdog's rate-wait budget, on the same clock as its dependencies (as in the function): a
 * deadline on the real clock while `now` runs minutes ahead left no budget at all, and the re-drive
 * then failed with RateLimitBacklog whenever the crashed call's slot had not yet passed.
 */
const budgetOn = (deps: IssuerDeps) => ({ boundMs: BOUND_MS, rateWaitDeadline: () => (deps.now?.() ?? new Date()).getTime() + 5_000 });

const limiterId = (): string => {
  const [, , , region, account] = (process.env.PCA_CA_ARN ?? '').split(':');
  return `acm-pca:IssueCertificate:${region}:${account}`;
};
/** Fills the IssueCertificate schedule for an hour: every issuer's slot is beyond its budget. */
const blockIssuance = (until: number): Promise<unknown> => dynamoDocumentClient().send(new PutCommand({ TableName: setting('RATE_LIMITS_TABLE'), Item: { limiterId: limiterId(), nextAt: until } }));

async function pendingRequest(spiffeId: string) {
  const workload = await register(stack, spiffeId);
  const requestedAt = new Date();
  const deps = issuerDeps();
  const stored = await deps.workloads.get(workload.id);
  if (!stored) throw new Error('just registered');
  const record = { requestId: crypto.randomUUID(), csr: await createCsrPem(), requestedAt: requestedAt.toISOString(), trigger: 'csr-submitted' as const };
  // Recorded without its event: as if SvidRequested had been lost with a crashed process.
  await deps.svids.recordRequest(stored, record, new Date(requestedAt.getTime() + 30_000), [], requestedAt);
  const detail = { schemaVersion: 1 as const, eventId: record.requestId, occurredAt: record.requestedAt, workloadId: workload.id, spiffeId, ...record };
  return { workload, record, detail };
}

const svidOf = async (id: string) => api(stack, 'svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id } });

describe('the issuer behind its queue', () => {
  it('a request whose every receive fails ends as SvidIssuanceFailed "retries-exhausted" on the last one, not in silence', async () => {
    await blockIssuance(Date.now() + 3_600_000);
    try {
      const workload = await register(stack, 'spiffe://example.org/watchdog/blocked');
      const res = await api(stack, 'svidApi', { method: 'POST', resource: '/workloads/{id}/csr', path: { id: workload.id }, body: { csr: await createCsrPem() } });
      const { requestId } = res.body as { requestId: string };
      const outcomes = await outcomesOf(stack, requestId);
      expect(outcomes.map((e) => e['detail-type'])).toEqual(['SvidIssuanceFailed']);
      expect(outcomes[0]?.detail).toMatchObject({ reason: 'retries-exhausted', message: expect.stringContaining('RateLimitBacklog') });
      expect((await svidOf(workload.id)).body).toMatchObject({ error: { code: 'SvidIssuanceFailed', details: [{ rule: 'retries-exhausted' }] } });
      // five receives, then SQS moved the message to the request queue's DLQ
      expect(stack.sqs.messages('trellis-local-svid-requests-dlq').some((m) => m.body.includes(requestId))).toBe(true);
    } finally {
      await blockIssuance(0);
    }
  });
});

describe('the watchdog', () => {
  it('leaves young requests, and re-drives one pending for a quarter of the bound to SvidIssued', async () => {
    const { workload, record } = await pendingRequest('spiffe://example.org/watchdog/lost-event');
    const at = (ms: number) => ({ ...issuerDeps(), now: () => new Date(new Date(record.requestedAt).getTime() + ms) });
    expect((await redrivePending(at(BOUND_MS / 4 - 1_000), budgetOn(at(BOUND_MS / 4 - 1_000)))).issued).not.toContain(record.requestId);
    expect((await redrivePending(at(BOUND_MS / 4), budgetOn(at(BOUND_MS / 4)))).issued).toContain(record.requestId);
    expect((await outcomesOf(stack, record.requestId)).map((e) => e['detail-type'])).toEqual(['SvidIssued']);
    expect((await svidOf(workload.id)).status).toBe(200);
  });

  it('ends a request whose re-drive throws as SvidIssuanceFailed "redrive-failed"', async () => {
    const { record } = await pendingRequest('spiffe://example.org/watchdog/cannot');
    const deps: IssuerDeps = { ...issuerDeps(), now: () => new Date(Date.now() + BOUND_MS), limiter: { acquire: () => Promise.reject(new Error('DynamoDB is down')) } };
    const report = await redrivePending(deps, { boundMs: BOUND_MS, rateWaitDeadline: () => Date.now() + 1_000 });
    expect(report.failed).toContainEqual({ requestId: record.requestId, reason: 'redrive-failed' });
    expect((await outcomesOf(stack, record.requestId))[0]?.detail).toMatchObject({ reason: 'redrive-failed', message: expect.stringContaining('DynamoDB is down') });
  });

  it('a crash between IssueCertificate and recording it: the re-drive gets the same certificate (idempotency token), one in all', async () => {
    const { record, detail } = await pendingRequest('spiffe://example.org/watchdog/crash');
    const issuedBefore = stack.standIns.acmPca.stats().issued;
    const crashing: IssuerDeps = { ...issuerDeps(), faults: { afterIssueCertificate: () => { throw new Error('killed'); } } };
    await expect(issueSvid(crashing, detail, { rateWaitDeadline: Date.now() + 5_000 })).rejects.toThrow('killed');
    const later = { ...issuerDeps(), now: () => new Date(Date.now() + BOUND_MS / 4) };
    expect((await redrivePending(later, budgetOn(later))).issued).toContain(record.requestId);
    expect(stack.standIns.acmPca.stats().issued - issuedBefore).toBe(1);
  });

  it('past the idempotency window, the certificate issued but never recorded is found in the CA listing and used: still one', async () => {
    const { workload, record, detail } = await pendingRequest('spiffe://example.org/watchdog/forgotten');
    const issuedBefore = stack.standIns.acmPca.stats().issued;
    const crashing: IssuerDeps = { ...issuerDeps(), faults: { afterIssueCertificate: () => { throw new Error('killed'); } } };
    await expect(issueSvid(crashing, detail, { rateWaitDeadline: Date.now() + 5_000 })).rejects.toThrow('killed');
    // Ten minutes later: ACM PCA no longer remembers the token, a new window would mean a new certificate.
    const late = { ...issuerDeps(), now: () => new Date(Date.now() + 10 * 60_000) };
    expect(late.issuedLookup).toBeDefined();
    expect((await redrivePending(late, budgetOn(late))).issued).toContain(record.requestId);
    expect(stack.standIns.acmPca.stats().issued - issuedBefore).toBe(1);
    const issued = (await outcomesOf(stack, record.requestId))[0];
    const listed = stack.standIns.acmPca.issuedCertificates().filter((c) => c.uris.includes(workload.spiffeId));
    expect(listed.map((c) => c.serialHex)).toEqual([issued?.detail.serialNumber]);
  });

  it('on AWS (no listing) the same case ends "issuance-unconfirmed", never a second certificate', async () => {
    const { record, detail } = await pendingRequest('spiffe://example.org/watchdog/aws-forgotten');
    const issuedBefore = stack.standIns.acmPca.stats().issued;
    const { issuedLookup: _none, ...aws } = issuerDeps();
    await expect(issueSvid({ ...aws, faults: { afterIssueCertificate: () => { throw new Error('killed'); } } }, detail, { rateWaitDeadline: Date.now() + 5_000 })).rejects.toThrow('killed');
    const tenMinutesLater = { ...aws, now: () => new Date(Date.now() + 10 * 60_000) };
    const report = await redrivePending(tenMinutesLater, budgetOn(tenMinutesLater));
    expect(report.failed).toContainEqual({ requestId: record.requestId, reason: 'issuance-unconfirmed' });
    expect(stack.standIns.acmPca.stats().issued - issuedBefore).toBe(1);
  });

  it('a request ended without its certificate recorded: the orphan is found in the listing and revoked', async () => {
    const { workload, record, detail } = await pendingRequest('spiffe://example.org/watchdog/orphan');
    await expect(issueSvid({ ...issuerDeps(), faults: { afterIssueCertificate: () => { throw new Error('killed'); } } }, detail, { rateWaitDeadline: Date.now() + 5_000 })).rejects.toThrow('killed');
    const { endUnfinished } = await import('../../shared/svid/end-unfinished');
    expect(await endUnfinished(issuerDeps(), detail, { reason: 'retries-exhausted', message: 'test' })).toEqual({ outcome: 'failed', reason: 'retries-exhausted' });
    const listed = stack.standIns.acmPca.issuedCertificates().filter((c) => c.uris.includes(workload.spiffeId));
    expect(listed).toHaveLength(1);
    expect(listed[0]?.revoked).toBe(true);
    const revoked = (await eventsOf(stack, 'SvidRevoked')).filter((e) => e.detail.workloadId === workload.id);
    expect(revoked.map((e) => e.detail.serialNumber)).toEqual([listed[0]?.serialHex]);
    expect((await outcomesOf(stack, record.requestId)).map((e) => e['detail-type'])).toEqual(['SvidIssuanceFailed']);
  });
});
