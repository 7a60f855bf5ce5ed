/**
 * Revoke (the target of WorkloadDeleted): every certificate ever issued for a deleted workload is
 * revoked at ACM Private CA and announced with SvidRevoked.
 */
import { pendingEvent, type EventDetail } from '../events/catalog';
import { logger } from '../logger';
import { clock, tuningOf, type PcaDeps } from './deps';
import { flush, publishDirectly } from './end-request';
import { certificateNotAfter, revokeWithRetries } from './pca-retries';

type WorkloadDeleted = EventDetail<'WorkloadDeleted'>;

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
  const events = [];
  for (const serialNumber of revoked) {
    const notAfter = await certificateNotAfter(deps, serialNumber);
    events.push(pendingEvent('SvidRevoked', { workloadId: deleted.workloadId, spiffeId: deleted.spiffeId, serialNumber, reason: 'CESSATION_OF_OPERATION', notAfter }, now));
  }
  const stored = await deps.svids.recordRevoked(deleted.workloadId, deleted.occurredAt, revoked, events, now);
  if (stored) await flush(deps, stored);
  else await publishDirectly(deps, events);
  logger.info('SVIDs revoked', { workloadId: deleted.workloadId, serials: revoked });
  return { revoked };
}
