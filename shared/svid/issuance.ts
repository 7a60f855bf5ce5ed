/**
 * X.509-SVID use cases as plain functions over the SVID repository, the outbox, the PCA seam and
 * the rate limiter: submit a CSR, issue (the EventBridge-driven issuer), renew at half-life,
 * revoke on deletion, and the state the API shows.
 *
 * Guarantees, and how:
 * - Identity never comes from the CSR: the SPIFFE ID, the DNS names and the subject are set through
 *   ApiPassthrough with an APIPassthrough template (pca-client.ts), and the CSR is checked first
 *   anyway (csr.ts) because ACM PCA copies CSR names wherever the API gives none.
 * - Lifetime = TTL: ValidityNotBefore = now - CLOCK_SKEW, Validity ABSOLUTE = notBefore + TTL (the
 *   relative types have a one-day minimum; the default NotBefore is an hour early).
 * - One certificate per request: the validity window is claimed once per request in the item, so
 *   every (re)delivery sends the same parameters with the same IdempotencyToken; the certificate ARN
 *   is recorded as soon as it is known, so a later redelivery resumes with GetCertificate; and a
 *   finished request is never processed again.
 * - Every request ends issued or explicitly failed (SvidIssuanceFailed): CSR refusals, PCA refusals,
 *   retries exhausted, a certificate that never became ready, one that breaks the X509-SVID rules,
 *   a workload deleted meanwhile, a newer request; the renewer fails requests still pending after
 *   PENDING_TIMEOUT (e.g. every delivery of the event failed).
 */
import { createHash } from 'node:crypto';
import type { ApiPassthrough, RevocationReason, SigningAlgorithm } from '@aws-sdk/client-acm-pca';
import { notFound } from '../errors';
import { pendingEvent, type EventDetail, type PendingEvent } from '../events/catalog';
import type { EventPublisher } from '../events/publisher';
import { logger } from '../logger';
import type { Outbox } from '../outbox/outbox';
import type { StoredWorkload } from '../workloads/repository';
import { backoffDelayMs, sleep as realSleep, type BackoffPolicy } from './backoff';
import { checkCsr } from './csr';
import { halfLifeAt, isPastHalfLife } from './lifetime';
import { classifyPcaError, partitionOf, pcaErrorMessage, pcaErrorName, serialFromCertificateArn, svidTemplateArn, type CaCache, type PemWithChain } from './pca-client';
import type { RateLimiter } from './rate-limiter';
import { newSvidRequest, registrationRequestId, svidRequestedEvent } from './request';
import { belongsTo, type InFlight, type IssuedSvid, type SvidFailure, type SvidRepository, type SvidRequestRecord, type SvidState } from './svid-repository';
import { checkX509Svid } from './x509-svid';

export interface IssuanceTuning {
  /** NotBefore is this much before the issuing moment (SPIRE back-dates by 10 s too). */
  clockSkewSeconds: number;
  /** IssueCertificate attempts per delivery (throttling and transient errors). */
  issueAttempts: number;
  issueBackoff: BackoffPolicy;
  /** GetCertificate polling while RequestInProgressException. */
  pollBackoff: BackoffPolicy;
  /** Longest wait for a certificate to become ready. */
  maxPollMs: number;
  revokeAttempts: number;
  revokeBackoff: BackoffPolicy;
  /** A request still pending this long after it was made is failed by the renewer. */
  pendingTimeoutMs: number;
  /** After a failed renewal, try again this much later. */
  renewalRetryMs: number;
  /** Reuse a claimed validity window (and so its IdempotencyToken) only this long: AWS keeps tokens 5 minutes. */
  idempotencyWindowMs: number;
  /** How long a deleted workload's item (its revoked serials) is kept. */
  deletedRetentionSeconds: number;
  /** Cache-Control max-age of the trust bundle and the SPIFFE bundle refresh hint. */
  bundleRefreshSeconds: number;
}

export const DEFAULT_TUNING: IssuanceTuning = {
  clockSkewSeconds: 10,
  issueAttempts: 5,
  issueBackoff: { baseMs: 100, capMs: 2_000 },
  pollBackoff: { baseMs: 100, capMs: 2_000 },
  maxPollMs: 30_000,
  revokeAttempts: 5,
  revokeBackoff: { baseMs: 100, capMs: 2_000 },
  pendingTimeoutMs: 15 * 60_000,
  renewalRetryMs: 5 * 60_000,
  idempotencyWindowMs: 4 * 60_000,
  deletedRetentionSeconds: 30 * 24 * 3600,
  bundleRefreshSeconds: 300,
};

export interface WorkloadReader {
  get(id: string): Promise<StoredWorkload | undefined>;
}

export interface SvidDeps {
  svids: SvidRepository;
  workloads: WorkloadReader;
  outbox: Outbox;
  /** For events that no write of the SVID item carries (a request that is no longer the item's). */
  publisher: EventPublisher;
  now?: () => Date;
  tuning?: Partial<IssuanceTuning>;
}

export interface PcaDeps extends SvidDeps {
  ca: CaCache;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface IssuerDeps extends PcaDeps {
  limiter: RateLimiter;
}

type SvidRequested = EventDetail<'SvidRequested'>;
type WorkloadDeleted = EventDetail<'WorkloadDeleted'>;

const clock = (deps: SvidDeps): Date => (deps.now ? deps.now() : new Date());
const tuningOf = (deps: SvidDeps): IssuanceTuning => ({ ...DEFAULT_TUNING, ...(deps.tuning ?? {}) });
const pause = (deps: PcaDeps, ms: number): Promise<void> => (deps.sleep ?? realSleep)(ms);

// ---------------------------------------------------------------------------------------------
// Pure parts

/** The validity of an SVID issued at `now`: whole seconds, lifetime exactly `ttlSeconds`. */
export function issuanceWindow(now: Date, ttlSeconds: number, skewSeconds = DEFAULT_TUNING.clockSkewSeconds): { notBefore: Date; notAfter: Date } {
  const notBefore = Math.floor(now.getTime() / 1000) - skewSeconds;
  return { notBefore: new Date(notBefore * 1000), notAfter: new Date((notBefore + ttlSeconds) * 1000) };
}

/**
 * IdempotencyToken (1–36 characters): derived from the request AND its claimed validity window,
 * so every delivery of one request sends the same token with the same parameters (AWS answers the
 * same certificate), while a window re-claimed after AWS forgot the token gets a new one.
 */
export function idempotencyToken(requestId: string, notBefore: Date): string {
  return createHash('sha256').update(`${requestId}|${notBefore.toISOString()}`).digest('hex').slice(0, 32);
}

/**
 * The certificate subject: CN = the last segment of the SPIFFE ID path (at most 64 characters,
 * the X.520 CommonName bound), e.g. `spiffe://example.org/service/orders` → `CN=orders`.
 * - Set through the API, never taken from the CSR: templates copy the CSR subject otherwise, and
 *   IAM Roles Anywhere turns the subject into principal tags (x509Subject/CN) and the session's
 *   source identity, so a workload must not choose it.
 * - Not empty: IAM Roles Anywhere does not accept certificates with an empty subject.
 * - Not the SPIFFE ID: that belongs in the URI SAN only (csr.ts refuses it in a CSR subject too),
 *   and a path may exceed 64 characters. The CN is for people and logs (Lattice hands it to the
 *   targets as x509SubjectCn); it is not unique and nothing authorises on it: policies match
 *   x509SAN/URI, the SPIFFE ID.
 */
export function svidCommonName(spiffeId: string): string {
  const path = spiffeId.replace(/^spiffe:\/\/[^/]+/, '');
  const last = path.split('/').filter((s) => s !== '').pop() ?? 'workload';
  return last.slice(0, 64);
}

/** ApiPassthrough: the subject and the SANs (the SPIFFE ID as the only URI, then the registered DNS names). */
export function svidApiPassthrough(spiffeId: string, dnsNames: readonly string[]): ApiPassthrough {
  return {
    Subject: { CommonName: svidCommonName(spiffeId) },
    Extensions: {
      SubjectAlternativeNames: [{ UniformResourceIdentifier: spiffeId }, ...dnsNames.map((DnsName) => ({ DnsName }))],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared steps

async function flush(deps: SvidDeps, item: SvidState): Promise<void> {
  await deps.outbox.flush({
    table: deps.svids.table,
    key: { workloadId: item.workloadId },
    events: item.pendingEvents ?? [],
    revision: item.revision ?? 0,
    tombstone: false,
  });
}

/** Publishes events with no write of their own; a failure throws, so the invocation is retried. */
async function publishDirectly(deps: SvidDeps, events: PendingEvent[]): Promise<void> {
  if (events.length > 0) await deps.publisher.publish(events);
}

const pendingDeadline = (deps: SvidDeps, requestedAt: Date): Date => new Date(requestedAt.getTime() + tuningOf(deps).pendingTimeoutMs);

/** When the renewer should next look at an SVID that stays after a failed request. */
function nextLookAfterFailure(deps: SvidDeps, svid: IssuedSvid | undefined, now: Date): Date | undefined {
  if (svid === undefined) return undefined;
  const half = halfLifeAt({ notBefore: new Date(svid.notBefore), notAfter: new Date(svid.notAfter) });
  return new Date(Math.max(half.getTime(), now.getTime() + tuningOf(deps).renewalRetryMs));
}

// ---------------------------------------------------------------------------------------------
// Submit (API)

export async function loadWorkload(deps: SvidDeps, id: string): Promise<StoredWorkload> {
  const workload = /^wl-[0-9a-f]{32}$/.test(id) ? await deps.workloads.get(id) : undefined;
  if (!workload) throw notFound('Workload', id);
  return workload;
}

/** Records a CSR as the workload's current request and publishes SvidRequested (one write). */
export async function submitCsr(deps: SvidDeps, workload: StoredWorkload, csr: string): Promise<SvidRequestRecord> {
  const now = clock(deps);
  const request = newSvidRequest(csr, 'csr-submitted', now);
  const stored = await deps.svids.recordRequest(workload, request, pendingDeadline(deps, now), [svidRequestedEvent(workload, request, now)], now);
  // The only refusal: the workload was deleted between reading it and this write.
  if (!stored) throw notFound('Workload', workload.id);
  await flush(deps, stored);
  return request;
}

// ---------------------------------------------------------------------------------------------
// Issue (SvidRequested)

export type IssueOutcome = { outcome: 'issued'; serialNumber: string } | { outcome: 'failed'; reason: string } | { outcome: 'duplicate' };

export interface IssueBudget {
  /** Epoch ms (real time) after which waiting for a rate-limit slot is not worth it. */
  rateWaitDeadline: number;
}

interface Failure {
  reason: string;
  message: string;
}

/** Ends a request as failed: in the item when it is still the item's pending request, else announced directly. */
async function fail(deps: SvidDeps, request: SvidRequested, failure: Failure, svid: IssuedSvid | undefined, extraEvents: PendingEvent[] = []): Promise<IssueOutcome> {
  const now = clock(deps);
  const record: SvidFailure = { requestId: request.requestId, reason: failure.reason, message: failure.message, at: now.toISOString() };
  const events = [
    pendingEvent(
      'SvidIssuanceFailed',
      { workloadId: request.workloadId, spiffeId: request.spiffeId, requestId: request.requestId, trigger: request.trigger, reason: failure.reason, message: failure.message },
      now,
    ),
    ...extraEvents,
  ];
  const stored = await deps.svids.storeFailed(request.workloadId, record, nextLookAfterFailure(deps, svid, now), events, now);
  if (stored) {
    await flush(deps, stored);
  } else {
    const latest = await deps.svids.get(request.workloadId);
    if (latest?.request?.requestId === request.requestId && latest.status !== 'pending') return { outcome: 'duplicate' };
    await publishDirectly(deps, events);
  }
  logger.warn('SVID issuance failed', { workloadId: request.workloadId, requestId: request.requestId, reason: failure.reason, detail: failure.message });
  return { outcome: 'failed', reason: failure.reason };
}

/** Why a write for this request did not apply, read from the item. */
async function lostClaim(deps: SvidDeps, request: SvidRequested): Promise<{ duplicate: true } | { duplicate: false; failure: Failure }> {
  const latest = await deps.svids.get(request.workloadId);
  if (latest?.request?.requestId === request.requestId && latest.status !== 'pending') return { duplicate: true };
  if (latest?.deletedAt !== undefined) {
    return { duplicate: false, failure: { reason: 'workload-deleted', message: `workload ${request.workloadId} was deleted while its SVID was being issued` } };
  }
  return {
    duplicate: false,
    failure: { reason: 'superseded', message: `a newer request (${latest?.request?.requestId ?? 'unknown'}) replaced this one; follow that request instead` },
  };
}

/** Revokes a certificate no request will store, and returns the SvidRevoked event to announce it. */
async function abandonCertificate(deps: PcaDeps, request: SvidRequested, serialHex: string | undefined, reason: RevocationReason): Promise<PendingEvent[]> {
  if (serialHex === undefined) return [];
  const result = await revokeWithRetries(deps, serialHex, reason).catch((error: unknown) => {
    logger.error('could not revoke an abandoned certificate', { workloadId: request.workloadId, serialHex, error: pcaErrorMessage(error) });
    return 'skipped' as const;
  });
  if (result === 'skipped') return [];
  return [pendingEvent('SvidRevoked', { workloadId: request.workloadId, spiffeId: request.spiffeId, serialNumber: serialHex, reason }, clock(deps))];
}

export async function issueSvid(deps: IssuerDeps, request: SvidRequested, budget: IssueBudget): Promise<IssueOutcome> {
  const tuning = tuningOf(deps);
  const workload = await deps.workloads.get(request.workloadId);
  if (!workload || workload.spiffeId !== request.spiffeId || workload.createdAt > request.requestedAt) {
    return fail(deps, request, { reason: 'workload-deleted', message: `workload ${request.workloadId} no longer exists as it was when this SVID was requested (deleted, or registered again)` }, undefined);
  }

  // 1. This request must be the item's pending one. A CSR given at registration is first seen here.
  let state = await deps.svids.get(workload.id);
  const isThisRequest = (s: SvidState | undefined): s is SvidState => belongsTo(s, workload) && s.request?.requestId === request.requestId;
  if (!isThisRequest(state)) {
    const record: SvidRequestRecord = { requestId: request.requestId, csr: request.csr, requestedAt: request.requestedAt, trigger: request.trigger };
    const now = clock(deps);
    state =
      (await deps.svids.recordRequest(workload, record, pendingDeadline(deps, new Date(request.requestedAt)), [], now, { onlyIfOlderThan: request.requestedAt })) ??
      // A concurrent delivery of this same request may have recorded it first.
      (await deps.svids.get(workload.id));
    if (!isThisRequest(state)) {
      const lost = await lostClaim(deps, request);
      return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, undefined);
    }
  }
  if (state.status !== 'pending') return { outcome: 'duplicate' };
  const currentSvid = belongsTo(state, workload) ? state.svid : undefined;

  // 2. The CSR may ask only for what the entry grants (the API passthrough overrides it anyway).
  const csr = await checkCsr(request.csr, { spiffeId: workload.spiffeId, dnsNames: workload.dnsNames });
  if (!csr.ok) return fail(deps, request, { reason: csr.reason, message: csr.message }, currentSvid);

  // 3. The CA: its signing algorithm (the family must match its key) and state.
  let signingAlgorithm: SigningAlgorithm;
  try {
    const ca = await withPcaRetries(deps, () => deps.ca.describe());
    if (ca.status !== 'ACTIVE') {
      return fail(deps, request, { reason: 'ca-not-active', message: `the certificate authority ${deps.ca.pca.caArn} is ${ca.status}, not ACTIVE; an administrator must fix the CA` }, currentSvid);
    }
    signingAlgorithm = ca.signingAlgorithm;
  } catch (error) {
    const kind = classifyPcaError(error);
    const reason = kind === 'throttled' || kind === 'transient' ? 'pca-unavailable' : 'pca-rejected';
    return fail(deps, request, { reason, message: `DescribeCertificateAuthority ${deps.ca.pca.caArn} failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` }, currentSvid);
  }

  // 4. Claim the validity window (a concurrent or earlier delivery of the request may have).
  const now = clock(deps);
  const window = issuanceWindow(now, workload.x509SvidTtlSeconds, tuning.clockSkewSeconds);
  const fresh: InFlight = { requestId: request.requestId, notBefore: window.notBefore.toISOString(), notAfter: window.notAfter.toISOString(), startedAt: now.toISOString() };
  let claimed = await deps.svids.claimInFlight(workload.id, fresh);
  const staleBefore = new Date(now.getTime() - tuning.idempotencyWindowMs).toISOString();
  if (claimed?.inFlight && claimed.inFlight.certificateArn === undefined && claimed.inFlight.startedAt < staleBefore) {
    claimed = (await deps.svids.claimInFlight(workload.id, fresh, { replaceStartedBefore: staleBefore })) ?? (await deps.svids.get(workload.id));
  }
  const inFlight = claimed?.inFlight;
  if (!claimed || inFlight?.requestId !== request.requestId || claimed.status !== 'pending' || claimed.request?.requestId !== request.requestId) {
    const lost = await lostClaim(deps, request);
    return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, currentSvid);
  }
  const notBefore = new Date(inFlight.notBefore);
  const notAfter = new Date(inFlight.notAfter);

  // 5. IssueCertificate, once per request: the ARN is recorded before anything else can fail.
  let certificateArn = inFlight.certificateArn;
  if (certificateArn === undefined) {
    const issued = await issueWithRetries(deps, budget, {
      csrPem: request.csr,
      signingAlgorithm,
      templateArn: svidTemplateArn(partitionOf(deps.ca.pca.caArn)),
      apiPassthrough: svidApiPassthrough(workload.spiffeId, workload.dnsNames),
      notBefore,
      notAfter,
      idempotencyToken: idempotencyToken(request.requestId, notBefore),
    });
    if (!issued.ok) return fail(deps, request, issued, currentSvid);
    certificateArn = issued.certificateArn;
    const recorded = await deps.svids.recordCertificateArn(workload.id, request.requestId, certificateArn, serialFromCertificateArn(certificateArn));
    if (!recorded) {
      const lost = await lostClaim(deps, request);
      if (lost.duplicate) return { outcome: 'duplicate' };
      const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), lost.failure.reason === 'workload-deleted' ? 'CESSATION_OF_OPERATION' : 'SUPERSEDED');
      return fail(deps, request, lost.failure, currentSvid, revoked);
    }
  }

  // 6. Wait for it (bounded), then check it against the X509-SVID rules before anyone sees it.
  const fetched = await waitForCertificate(deps, certificateArn);
  if (!fetched.ok) {
    // ACM PCA may still issue it after we stop waiting: revoke it so no unrecorded certificate stays valid.
    const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), 'SUPERSEDED');
    return fail(deps, request, fetched, currentSvid, revoked);
  }
  let bundlePem: string;
  try {
    bundlePem = await withPcaRetries(deps, () => deps.ca.bundlePem());
  } catch (error) {
    return fail(deps, request, { reason: 'pca-unavailable', message: `GetCertificateAuthorityCertificate failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` }, currentSvid);
  }
  const check = await checkX509Svid(fetched.certificatePem, { spiffeId: workload.spiffeId, notBefore, notAfter, caCertPem: bundlePem });
  if (!check.ok) {
    const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), 'UNSPECIFIED');
    const message = `the certificate ACM Private CA returned breaks the X509-SVID rules, so it was not stored${revoked.length > 0 ? ' and was revoked' : ''}: ${check.violations.map((v) => `${v.rule}: ${v.message}`).join('; ')}`;
    return fail(deps, request, { reason: 'svid-check-failed', message }, currentSvid, revoked);
  }

  // 7. Store and announce.
  const storedAt = clock(deps);
  const svid: IssuedSvid = {
    requestId: request.requestId,
    trigger: request.trigger,
    serialNumber: check.serialHex,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    certificatePem: fetched.certificatePem,
    chainPem: fetched.chainPem,
    certificateArn,
    issuedAt: storedAt.toISOString(),
    csr: request.csr,
  };
  const issuedEvent = pendingEvent(
    'SvidIssued',
    {
      workloadId: workload.id,
      spiffeId: workload.spiffeId,
      requestId: request.requestId,
      trigger: request.trigger,
      serialNumber: svid.serialNumber,
      notBefore: svid.notBefore,
      notAfter: svid.notAfter,
      certificateArn,
    },
    storedAt,
  );
  const stored = await deps.svids.storeIssued(workload.id, svid, halfLifeAt({ notBefore, notAfter }), [issuedEvent], storedAt);
  if (!stored) {
    const latest = await deps.svids.get(workload.id);
    if (latest?.svid?.serialNumber === svid.serialNumber || (latest?.request?.requestId === request.requestId && latest.status !== 'pending')) return { outcome: 'duplicate' };
    const lost = await lostClaim(deps, request);
    const revoked = await abandonCertificate(deps, request, svid.serialNumber, lost.duplicate || lost.failure.reason !== 'workload-deleted' ? 'SUPERSEDED' : 'CESSATION_OF_OPERATION');
    return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, currentSvid, revoked);
  }
  await flush(deps, stored);
  logger.info('SVID issued', { workloadId: workload.id, requestId: request.requestId, serialNumber: svid.serialNumber, trigger: request.trigger, notAfter: svid.notAfter });
  return { outcome: 'issued', serialNumber: svid.serialNumber };
}

/** Retries a PCA read on throttling and transient errors (bounded); throws the last error otherwise. */
async function withPcaRetries<T>(deps: PcaDeps, call: () => Promise<T>): Promise<T> {
  const tuning = tuningOf(deps);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      const kind = classifyPcaError(error);
      if ((kind !== 'throttled' && kind !== 'transient') || attempt + 1 >= tuning.issueAttempts) throw error;
      await pause(deps, backoffDelayMs(attempt, tuning.issueBackoff, deps.random));
    }
  }
}

type Issued = { ok: true; certificateArn: string } | ({ ok: false } & Failure);

/**
 * IssueCertificate with a rate-limiter slot for EVERY attempt (a retry is a call too), jittered
 * backoff after throttling or a transient error, and a bounded number of attempts. A
 * RateLimitBacklog is thrown on, not turned into a failure: the delivery is retried later.
 */
async function issueWithRetries(deps: IssuerDeps, budget: IssueBudget, input: Parameters<IssuerDeps['ca']['pca']['issueCertificate']>[0]): Promise<Issued> {
  const tuning = tuningOf(deps);
  let last: unknown;
  for (let attempt = 0; attempt < tuning.issueAttempts; attempt += 1) {
    if (attempt > 0) await pause(deps, backoffDelayMs(attempt - 1, tuning.issueBackoff, deps.random));
    await deps.limiter.acquire(Math.max(0, budget.rateWaitDeadline - Date.now()));
    try {
      return { ok: true, certificateArn: await deps.ca.pca.issueCertificate(input) };
    } catch (error) {
      last = error;
      const kind = classifyPcaError(error);
      if (kind === 'throttled' || kind === 'transient') {
        logger.info('IssueCertificate will be retried', { attempt: attempt + 1, error: pcaErrorName(error) });
        continue;
      }
      return { ok: false, reason: 'pca-rejected', message: `ACM Private CA refused to issue the certificate: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` };
    }
  }
  const throttled = classifyPcaError(last) === 'throttled';
  return {
    ok: false,
    reason: throttled ? 'throttled' : 'pca-unavailable',
    message: `IssueCertificate still failed after ${tuning.issueAttempts} attempts with backoff (${pcaErrorName(last)}: ${pcaErrorMessage(last)}); submit the CSR again later`,
  };
}

type Fetched = ({ ok: true } & PemWithChain) | ({ ok: false } & Failure);

/** GetCertificate until it is ready (RequestInProgressException), with bounded jittered backoff. */
async function waitForCertificate(deps: PcaDeps, certificateArn: string): Promise<Fetched> {
  const tuning = tuningOf(deps);
  const started = performance.now();
  for (let poll = 0; ; poll += 1) {
    try {
      return { ok: true, ...(await deps.ca.pca.getCertificate(certificateArn)) };
    } catch (error) {
      const kind = classifyPcaError(error);
      if (kind !== 'in-progress' && kind !== 'throttled' && kind !== 'transient') {
        return { ok: false, reason: 'pca-rejected', message: `GetCertificate ${certificateArn} failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` };
      }
      const delay = backoffDelayMs(poll, tuning.pollBackoff, deps.random);
      const waited = performance.now() - started;
      if (waited + delay > tuning.maxPollMs) {
        return {
          ok: false,
          reason: 'certificate-not-ready',
          message: `certificate ${certificateArn} was still not available after ${Math.round(waited / 1000)} s (${pcaErrorName(error)}); submit the CSR again`,
        };
      }
      await pause(deps, delay);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Renew (schedule)

export interface RenewalReport {
  renewed: string[];
  timedOut: string[];
}

/**
 * Renews every SVID past half of its lifetime from the CSR it was issued from (SPIRE's rule), and
 * fails requests pending longer than the timeout. `now` is injected (tests use a fake clock).
 */
export async function renewDueSvids(deps: SvidDeps, now: Date): Promise<RenewalReport> {
  const tuning = tuningOf(deps);
  const report: RenewalReport = { renewed: [], timedOut: [] };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.svids.due(now, startKey);
    for (const due of page.items) {
      const state = await deps.svids.get(due.workloadId);
      if (!state || state.deletedAt !== undefined || state.dueAt !== due.dueAt) continue;
      if (state.status === 'pending' && state.request) {
        const deadline = pendingDeadline(deps, new Date(state.request.requestedAt));
        if (deadline.getTime() <= now.getTime()) {
          const request = requestDetail(state, state.request);
          const minutes = Math.round(tuning.pendingTimeoutMs / 60_000);
          const outcome = await fail({ ...deps, now: () => now }, request, { reason: 'timed-out', message: `no issuer finished this request within ${minutes} minutes; submit the CSR again` }, state.svid);
          if (outcome.outcome === 'failed') report.timedOut.push(state.workloadId);
        } else {
          await deps.svids.reschedule(state.workloadId, due.dueAt, deadline);
        }
        continue;
      }
      const svid = state.svid;
      if (svid === undefined) {
        await deps.svids.reschedule(state.workloadId, due.dueAt, undefined);
        continue;
      }
      const window = { notBefore: new Date(svid.notBefore), notAfter: new Date(svid.notAfter) };
      if (!isPastHalfLife(window.notBefore, window.notAfter, now)) {
        await deps.svids.reschedule(state.workloadId, due.dueAt, halfLifeAt(window));
        continue;
      }
      const request = newSvidRequest(svid.csr, 'renewal', now);
      const event = svidRequestedEvent({ id: state.workloadId, spiffeId: state.spiffeId }, request, now);
      const stored = await deps.svids.recordRenewal(state.workloadId, svid.serialNumber, request, pendingDeadline(deps, now), [event], now);
      if (stored) {
        await flush(deps, stored);
        report.renewed.push(state.workloadId);
      }
    }
    startKey = page.lastKey;
  } while (startKey);
  return report;
}

function requestDetail(state: SvidState, request: SvidRequestRecord): SvidRequested {
  return {
    schemaVersion: 1,
    eventId: request.requestId,
    occurredAt: request.requestedAt,
    workloadId: state.workloadId,
    spiffeId: state.spiffeId,
    requestId: request.requestId,
    requestedAt: request.requestedAt,
    trigger: request.trigger,
    csr: request.csr,
  };
}

// ---------------------------------------------------------------------------------------------
// Revoke (WorkloadDeleted)

type RevokeResult = 'revoked' | 'already' | 'skipped';

/** RevokeCertificate with bounded retries; 'skipped' when the CA cannot revoke it (unknown, expired...). Throws when retries run out. */
async function revokeWithRetries(deps: PcaDeps, serialHex: string, reason: RevocationReason): Promise<RevokeResult> {
  const tuning = tuningOf(deps);
  for (let attempt = 0; ; attempt += 1) {
    try {
      await deps.ca.pca.revokeCertificate(serialHex, reason);
      return 'revoked';
    } catch (error) {
      const kind = classifyPcaError(error);
      if (kind === 'already-done') return 'already';
      if (kind === 'not-found' || kind === 'rejected') {
        logger.warn('certificate not revocable', { serialHex, error: pcaErrorName(error), message: pcaErrorMessage(error) });
        return 'skipped';
      }
      if (attempt + 1 >= tuning.revokeAttempts) throw error;
      await pause(deps, backoffDelayMs(attempt, tuning.revokeBackoff, deps.random));
    }
  }
}

/**
 * Revokes every certificate ever issued for a deleted workload and announces each with
 * SvidRevoked. Marks the item deleted first, so an issuer still running cannot store a certificate
 * afterwards (it revokes its own instead). Safe to repeat: revoked serials are recorded, and
 * "already revoked" counts as revoked.
 */
export async function revokeWorkloadSvids(deps: PcaDeps, deleted: WorkloadDeleted): Promise<{ revoked: string[] }> {
  const now = clock(deps);
  const tuning = tuningOf(deps);
  const expiresAt = Math.floor(now.getTime() / 1000) + tuning.deletedRetentionSeconds;
  const state = await deps.svids.markDeleted(deleted.workloadId, deleted.spiffeId, deleted.occurredAt, expiresAt);
  if (!state) return { revoked: [] };
  const done = state.revokedSerials ?? new Set<string>();
  const revoked: string[] = [];
  for (const serial of [...(state.serials ?? [])].sort()) {
    if (done.has(serial)) continue;
    if ((await revokeWithRetries(deps, serial, 'CESSATION_OF_OPERATION')) !== 'skipped') revoked.push(serial);
  }
  if (revoked.length === 0) return { revoked };
  const events = revoked.map((serialNumber) =>
    pendingEvent('SvidRevoked', { workloadId: deleted.workloadId, spiffeId: deleted.spiffeId, serialNumber, reason: 'CESSATION_OF_OPERATION' }, now),
  );
  const stored = await deps.svids.recordRevoked(deleted.workloadId, deleted.occurredAt, revoked, events, now);
  if (stored) await flush(deps, stored);
  else await publishDirectly(deps, events);
  logger.info('SVIDs revoked', { workloadId: deleted.workloadId, serials: revoked });
  return { revoked };
}

// ---------------------------------------------------------------------------------------------
// What the API shows

export interface RequestSummary {
  requestId: string;
  trigger: SvidRequestRecord['trigger'];
  requestedAt: string;
  status: 'pending' | 'issued' | 'failed';
  failure?: { reason: string; message: string };
}

export type SvidView = { kind: 'none' } | { kind: 'pending'; request: RequestSummary } | { kind: 'failed'; request: RequestSummary } | { kind: 'issued'; svid: IssuedSvid; request: RequestSummary };

export async function svidView(deps: SvidDeps, workload: StoredWorkload): Promise<SvidView> {
  const state = await deps.svids.get(workload.id);
  if (!belongsTo(state, workload) || state.request === undefined) {
    // A CSR given at registration that the issuer has not picked up yet.
    if (workload.csr === undefined) return { kind: 'none' };
    return { kind: 'pending', request: { requestId: registrationRequestId(workload.id, workload.createdAt), trigger: 'registration', requestedAt: workload.createdAt, status: 'pending' } };
  }
  const status = state.status ?? 'pending';
  const request: RequestSummary = {
    requestId: state.request.requestId,
    trigger: state.request.trigger,
    requestedAt: state.request.requestedAt,
    status,
    ...(status === 'failed' && state.failure ? { failure: { reason: state.failure.reason, message: state.failure.message } } : {}),
  };
  if (state.svid) return { kind: 'issued', svid: state.svid, request };
  return status === 'failed' ? { kind: 'failed', request } : { kind: 'pending', request };
}
