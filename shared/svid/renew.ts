/**
 * Renew (the schedule): SVIDs past half of their lifetime are renewed from the CSR they were
 * issued from, and requests pending past their deadline are failed as timed out.
 */
import type { EventDetail } from '../events/catalog';
import { pendingDeadline, tuningOf, type SvidDeps } from './deps';
import { fail, flush } from './end-request';
import { halfLifeAt, isPastHalfLife } from './lifetime';
import type { SvidRequestRecord, SvidState } from './model';
import { newSvidRequest, svidRequestedEvent } from './request';

type SvidRequested = EventDetail<'SvidRequested'>;

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
