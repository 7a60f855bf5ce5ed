/** Submit a CSR (the API): the workload's new current request, announced with SvidRequested. */
import { notFound } from '../errors';
import type { StoredWorkload } from '../workloads/model';
import { clock, pendingDeadline, type SvidDeps } from './deps';
import { flush } from './end-request';
import type { SvidRequestRecord } from './model';
import { newSvidRequest, svidRequestedEvent } from './request';

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
