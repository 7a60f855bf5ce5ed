/**
 * How an SVID request ends when it does not end issued: the failure recorded in the item (or
 * announced directly when the request is no longer the item's); and the steps the use cases share:
 * the outbox flush, and recording a delivered request the item does not name yet.
 */
import { pendingEvent, type EventDetail, type PendingEvent } from '../events/catalog';
import { logger } from '../logger';
import type { StoredWorkload } from '../workloads/model';
import { clock, pendingDeadline, tuningOf, type SvidDeps } from './deps';
import { halfLifeAt } from './lifetime';
import type { IssuedSvid, SvidFailure, SvidRequestRecord, SvidState } from './model';

export type IssueOutcome = { outcome: 'issued'; serialNumber: string } | { outcome: 'failed'; reason: string } | { outcome: 'duplicate' };

export interface Failure {
  reason: string;
  message: string;
}

type SvidRequested = EventDetail<'SvidRequested'>;

/**
 * Records a delivered request as the item's pending one unless a newer request is recorded (a CSR
 * given at registration is first seen by its delivery), and returns the item as it then is: a
 * concurrent delivery of the same request may have recorded it first. The caller checks whose
 * request the item names.
 */
export async function recordDeliveredRequest(deps: SvidDeps, workload: StoredWorkload, request: SvidRequested): Promise<SvidState | undefined> {
  const record: SvidRequestRecord = { requestId: request.requestId, csr: request.csr, requestedAt: request.requestedAt, trigger: request.trigger };
  const pendingUntil = pendingDeadline(deps, new Date(request.requestedAt));
  return (await deps.svids.recordRequest(workload, record, pendingUntil, [], clock(deps), { onlyIfOlderThan: request.requestedAt })) ?? (await deps.svids.get(workload.id));
}

export async function flush(deps: SvidDeps, item: SvidState): Promise<void> {
  await deps.outbox.flush({
    table: deps.svids.table,
    key: { workloadId: item.workloadId },
    events: item.pendingEvents ?? [],
    revision: item.revision ?? 0,
    tombstone: false,
  });
}

/** Publishes events with no write of their own; a failure throws, so the invocation is retried. */
export async function publishDirectly(deps: SvidDeps, events: PendingEvent[]): Promise<void> {
  if (events.length > 0) await deps.publisher.publish(events);
}


/** When the renewer should next look at an SVID that stays after a failed request. */
function nextLookAfterFailure(deps: SvidDeps, svid: IssuedSvid | undefined, now: Date): Date | undefined {
  if (svid === undefined) return undefined;
  const half = halfLifeAt({ notBefore: new Date(svid.notBefore), notAfter: new Date(svid.notAfter) });
  return new Date(Math.max(half.getTime(), now.getTime() + tuningOf(deps).renewalRetryMs));
}


/** Ends a request as failed: in the item when it is still the item's pending request, else announced directly. */
export async function fail(deps: SvidDeps, request: SvidRequested, failure: Failure, svid: IssuedSvid | undefined, extraEvents: PendingEvent[] = []): Promise<IssueOutcome> {
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
export async function lostClaim(deps: SvidDeps, request: SvidRequested): Promise<{ duplicate: true } | { duplicate: false; failure: Failure }> {
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
