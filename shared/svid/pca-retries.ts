/**
 * The retry policy at the ACM Private CA seam: bounded attempts with jittered backoff on
 * throttling and transient errors, a rate-limiter slot for every IssueCertificate attempt, a
 * bounded wait for a certificate to become ready, and revocation of certificates no request will
 * store. Time comes from the dependencies (`now`, `sleep`, `random`), so tests run on a fake clock.
 */
import type { RevocationReason } from '@aws-sdk/client-acm-pca';
import { pendingEvent, type EventDetail, type PendingEvent } from '../events/catalog';
import { logger } from '../logger';
import { backoffDelayMs } from './backoff';
import { clock, metricsOf, pause, tuningOf, type IssuerDeps, type PcaDeps } from './deps';
import type { Failure } from './end-request';
import { classifyPcaError, pcaErrorMessage, pcaErrorName, type PemWithChain } from './pca-client';
import { parseCertificateChain } from './x509-svid';
import { TTL_MAX_SECONDS } from '../workloads/model';

type SvidRequested = EventDetail<'SvidRequested'>;

export interface IssueBudget {
  /** Epoch ms (on the dependencies' clock) after which waiting for a rate-limit slot is not worth it. */
  rateWaitDeadline: number;
}

/** Retries a PCA read on throttling and transient errors (bounded); throws the last error otherwise. */
export async function withPcaRetries<T>(deps: PcaDeps, call: () => Promise<T>): Promise<T> {
  const tuning = tuningOf(deps);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      const kind = classifyPcaError(error);
      if (kind === 'throttled') metricsOf(deps).emit('PcaThrottles', 1);
      if ((kind !== 'throttled' && kind !== 'transient') || attempt + 1 >= tuning.issueAttempts) throw error;
      metricsOf(deps).emit('PcaRetries', 1);
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
export async function issueWithRetries(deps: IssuerDeps, budget: IssueBudget, input: Parameters<IssuerDeps['ca']['pca']['issueCertificate']>[0]): Promise<Issued> {
  const tuning = tuningOf(deps);
  let last: unknown;
  for (let attempt = 0; attempt < tuning.issueAttempts; attempt += 1) {
    if (attempt > 0) await pause(deps, backoffDelayMs(attempt - 1, tuning.issueBackoff, deps.random));
    await deps.limiter.acquire(Math.max(0, budget.rateWaitDeadline - clock(deps).getTime()));
    try {
      return { ok: true, certificateArn: await deps.ca.pca.issueCertificate(input) };
    } catch (error) {
      last = error;
      const kind = classifyPcaError(error);
      if (kind === 'throttled') metricsOf(deps).emit('PcaThrottles', 1);
      if (kind === 'throttled' || kind === 'transient') {
        if (attempt + 1 < tuning.issueAttempts) metricsOf(deps).emit('PcaRetries', 1);
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
export async function waitForCertificate(deps: PcaDeps, certificateArn: string): Promise<Fetched> {
  const tuning = tuningOf(deps);
  const started = clock(deps).getTime();
  let slept = 0;
  for (let poll = 0; ; poll += 1) {
    try {
      return { ok: true, ...(await deps.ca.pca.getCertificate(certificateArn)) };
    } catch (error) {
      const kind = classifyPcaError(error);
      if (kind === 'throttled') metricsOf(deps).emit('PcaThrottles', 1);
      if (kind !== 'in-progress' && kind !== 'throttled' && kind !== 'transient') {
        return { ok: false, reason: 'pca-rejected', message: `GetCertificate ${certificateArn} failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` };
      }
      const delay = backoffDelayMs(poll, tuning.pollBackoff, deps.random);
      // At least what was slept, so a clock that does not move (a test's frozen `now`) cannot make the wait endless.
      const waited = Math.max(clock(deps).getTime() - started, slept);
      if (waited + delay > tuning.maxPollMs) {
        return {
          ok: false,
          reason: 'certificate-not-ready',
          message: `certificate ${certificateArn} was still not available after ${Math.round(waited / 1000)} s (${pcaErrorName(error)}); submit the CSR again`,
        };
      }
      await pause(deps, delay);
      slept += delay;
    }
  }
}

export type RevokeResult = 'revoked' | 'already' | 'skipped';

/** RevokeCertificate with bounded retries; 'skipped' when the CA cannot revoke it (unknown, expired...). Throws when retries run out. */
export async function revokeWithRetries(deps: PcaDeps, serialHex: string, reason: RevocationReason): Promise<RevokeResult> {
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
      if (kind === 'throttled') metricsOf(deps).emit('PcaThrottles', 1);
      if (attempt + 1 >= tuning.revokeAttempts) throw error;
      metricsOf(deps).emit('PcaRetries', 1);
      await pause(deps, backoffDelayMs(attempt, tuning.revokeBackoff, deps.random));
    }
  }
}

/**
 * A revoked certificate's NotAfter, for SvidRevoked (the auth policies deny its sessions until
 * then): read back from the CA (GetCertificate by its ARN, `<CA ARN>/certificate/<serial>`). When
 * the CA cannot say, the longest SVID lifetime from now bounds it: a deny kept too long only costs
 * policy bytes, one dropped too early would let the certificate's sessions back in.
 */
export async function certificateNotAfter(deps: PcaDeps, serialHex: string): Promise<string> {
  try {
    const { certificatePem } = await deps.ca.pca.getCertificate(`${deps.ca.pca.caArn}/certificate/${serialHex}`);
    const [leaf] = parseCertificateChain(certificatePem);
    if (leaf !== undefined) return leaf.notAfter.toISOString();
  } catch (error) {
    logger.warn('could not read a revoked certificate back from the CA; assuming the longest SVID lifetime', { serialHex, error: pcaErrorMessage(error) });
  }
  return new Date(clock(deps).getTime() + TTL_MAX_SECONDS * 1000).toISOString();
}

/** Revokes a certificate no request will store, and returns the SvidRevoked event to announce it. */
export async function abandonCertificate(deps: PcaDeps, request: SvidRequested, serialHex: string | undefined, reason: RevocationReason): Promise<PendingEvent[]> {
  if (serialHex === undefined) return [];
  const result = await revokeWithRetries(deps, serialHex, reason).catch((error: unknown) => {
    logger.error('could not revoke an abandoned certificate', { workloadId: request.workloadId, serialHex, error: pcaErrorMessage(error) });
    return 'skipped' as const;
  });
  if (result === 'skipped') return [];
  const notAfter = await certificateNotAfter(deps, serialHex);
  return [pendingEvent('SvidRevoked', { workloadId: request.workloadId, spiffeId: request.spiffeId, serialNumber: serialHex, reason, notAfter }, clock(deps))];
}