/**
 * SvidRevoked → every managed service's auth policy denies the revoked certificate's sessions: the
 * certificate is recorded in the revocations table, then each managed service is synced as a grant
 * change would sync it (bump, converge, PolicyApplied / PolicySyncFailed). Idempotent: a repeated
 * event records the same item and finds the policies already converged.
 */
import { TTL_MAX_SECONDS } from '../workloads/model';
import type { EventDetail } from '../events/catalog';
import { ensureConfiguredServices } from '../grants/service';
import { logger } from '../logger';
import { clock, type PolicyDeps } from './deps';
import { syncServicePolicy } from './sync';

export async function denyRevokedCertificate(deps: PolicyDeps, revoked: EventDetail<'SvidRevoked'>): Promise<{ services: string[]; recorded: boolean }> {
  if (deps.revocations === undefined) throw new Error('denyRevokedCertificate: no revocation store is configured');
  // An event from before notAfter was carried: the longest SVID lifetime bounds the certificate.
  const notAfter = revoked.notAfter ?? new Date(Date.parse(revoked.occurredAt) + TTL_MAX_SECONDS * 1000).toISOString();
  const recorded = Date.parse(notAfter) > clock(deps).getTime();
  // An expired certificate gets no session anyway: nothing to deny.
  if (recorded) {
    await deps.revocations.record({
      serialNumber: revoked.serialNumber,
      spiffeId: revoked.spiffeId,
      workloadId: revoked.workloadId,
      reason: revoked.reason,
      notAfter,
      revokedAt: revoked.occurredAt,
    });
  }
  await ensureConfiguredServices(deps);
  const names = (await deps.services.all()).map((s) => s.name).sort();
  for (const name of names) await syncServicePolicy(deps, name, 'SvidRevoked', revoked.eventId);
  logger.info('revoked certificate denied in every managed auth policy', { serialNumber: revoked.serialNumber, spiffeId: revoked.spiffeId, notAfter, recorded, services: names });
  return { services: names, recorded };
}
