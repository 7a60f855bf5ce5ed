/** What the API shows of a workload's SVID: none yet, pending, failed (with the reason) or issued. */
import type { StoredWorkload } from '../workloads/model';
import type { SvidDeps } from './deps';
import { belongsTo, type IssuedSvid, type SvidRequestRecord } from './model';
import { registrationRequestId } from './request';

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

