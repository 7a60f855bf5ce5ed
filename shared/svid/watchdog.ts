/**
 * The watchdog of pending work (a schedule): no SVID request stays pending past the bound.
 *
 * Events are delivered at least once, but "at least once" has holes a request can fall through:
 * an event dead-lettered after its retries, a queue message whose receives all failed, a process
 * killed between IssueCertificate and recording its answer. So the watchdog does not trust any of
 * them. It finds the requests pending for longer than a quarter of the bound (the DueIndex: a
 * pending item is due `pendingTimeoutMs` after it was made) and re-drives each one in-line through
 * the issuer's own idempotent path (issue.ts): the same validity window and IdempotencyToken while
 * ACM PCA remembers them (about 5 minutes, and a quarter of the bound is well inside), the recorded
 * certificate ARN, or the CA's listing where there is one. If the re-drive throws, the request is
 * ended explicitly (end-unfinished.ts, reason `redrive-failed`). Either way it leaves this
 * invocation ended, so with a schedule period plus run time within the remaining three quarters of
 * the bound, nothing is pending past it.
 */
import type { EventDetail } from '../events/catalog';
import { logger } from '../logger';
import { clock, metricsOf, type IssuerDeps } from './deps';
import { endUnfinished } from './end-unfinished';
import { issueSvid, type IssueOutcome } from './issue';
import type { SvidRequestRecord, SvidState } from './model';

type SvidRequested = EventDetail<'SvidRequested'>;

export interface WatchdogReport {
  /** Pending requests old enough to re-drive. */
  looked: number;
  issued: string[];
  failed: { requestId: string; reason: string }[];
}

/** Re-drives at most this many requests at once (each may wait for IssueCertificate slots). */
const PARALLEL = 4;

export async function redrivePending(deps: IssuerDeps, options: { boundMs: number; rateWaitDeadline: () => number }): Promise<WatchdogReport> {
  const now = clock(deps);
  const redriveAfterMs = options.boundMs / 4;
  const stuck: SvidState[] = [];
  let oldestMs = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.svids.due(now, startKey);
    for (const due of page.items) {
      const state = await deps.svids.get(due.workloadId);
      if (!state || state.deletedAt !== undefined || state.status !== 'pending' || state.request === undefined) continue;
      const ageMs = now.getTime() - new Date(state.request.requestedAt).getTime();
      oldestMs = Math.max(oldestMs, ageMs);
      if (ageMs >= redriveAfterMs) stuck.push(state);
    }
    startKey = page.lastKey;
  } while (startKey);

  // Every run reports, zero included, so the alarms on these see data while nothing is stuck.
  metricsOf(deps).emit('PendingSvidRequests', stuck.length);
  metricsOf(deps).emit('OldestPendingSvidRequestAge', Math.round(oldestMs / 1000));
  const report: WatchdogReport = { looked: stuck.length, issued: [], failed: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let state = stuck[next++]; state !== undefined; state = stuck[next++]) {
      const request = requestDetail(state, state.request as SvidRequestRecord);
      let outcome: IssueOutcome;
      try {
        outcome = await issueSvid(deps, request, { rateWaitDeadline: options.rateWaitDeadline() });
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        outcome = await endUnfinished(deps, request, { reason: 'redrive-failed', message: `the request was still pending after ${Math.round(redriveAfterMs / 1000)} s and re-driving it failed (${message}); submit the CSR again` });
      }
      if (outcome.outcome === 'issued') report.issued.push(request.requestId);
      if (outcome.outcome === 'failed') report.failed.push({ requestId: request.requestId, reason: outcome.reason });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (report.looked > 0) logger.warn('pending SVID requests re-driven', { looked: report.looked, issued: report.issued.length, failed: report.failed });
  return report;
}

/** The SvidRequested detail of a recorded request (what the issuer would have received). */
export function requestDetail(state: SvidState, request: SvidRequestRecord): SvidRequested {
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
