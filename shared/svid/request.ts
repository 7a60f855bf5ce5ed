/**
 * An SVID request: what SvidRequested carries and the SVID item records. Kept free of AWS clients
 * so that registration (shared/workloads/service.ts) can put one in the same outbox write as the
 * new entry.
 */
import { createHash, randomUUID } from 'node:crypto';
import { pendingEvent, type PendingEvent } from '../events/catalog';
import type { SvidRequestRecord, SvidTrigger } from './model';

export function newSvidRequest(csr: string, trigger: SvidTrigger, now: Date, requestId: string = randomUUID()): SvidRequestRecord {
  return { requestId, csr, requestedAt: now.toISOString(), trigger };
}

/**
 * The request id of the CSR given at registration, derived from the entry (a UUID of version 8,
 * "custom"), so the API can name that request while it is pending although the entry item does not
 * store it.
 */
export function registrationRequestId(workloadId: string, createdAt: string): string {
  const hex = createHash('sha256').update(`${workloadId}|${createdAt}|registration`).digest('hex');
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function svidRequestedEvent(workload: { id: string; spiffeId: string }, request: SvidRequestRecord, now: Date): PendingEvent {
  return pendingEvent(
    'SvidRequested',
    { workloadId: workload.id, spiffeId: workload.spiffeId, requestId: request.requestId, requestedAt: request.requestedAt, trigger: request.trigger, csr: request.csr },
    now,
  );
}
