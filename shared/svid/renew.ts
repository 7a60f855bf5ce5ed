/**
 * Renew (the schedule): SVIDs past half of their lifetime are renewed from the CSR they were
 * issued from. Requests still pending are the watchdog's (watchdog.ts).
 */
import { pendingDeadline, type SvidDeps } from './deps';
import { flush } from './end-request';
import { halfLifeAt, isPastHalfLife } from './lifetime';
import { newSvidRequest, svidRequestedEvent } from './request';

export interface RenewalReport {
  renewed: string[];
}

/**
 * Renews every SVID past half of its lifetime from the CSR it was issued from (SPIRE's rule).
 * `now` is injected (tests use a fake clock).
 */
export async function renewDueSvids(deps: SvidDeps, now: Date): Promise<RenewalReport> {
  const report: RenewalReport = { renewed: [] };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.svids.due(now, startKey);
    for (const due of page.items) {
      const state = await deps.svids.get(due.workloadId);
      if (!state || state.deletedAt !== undefined || state.dueAt !== due.dueAt) continue;
      // Pending requests belong to the watchdog (watchdog.ts), which re-drives or ends them.
      if (state.status === 'pending') continue;
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
