/**
 * Reconcile: a managed service converged, drift classified and announced (PolicyDriftRepaired) —
 * every service on the schedule (reconcileAll), or one at once when CloudTrail reports a change
 * made outside Trellis (reconcileService, from repair-drift.ts).
 */
import { pendingEvent } from '../events/catalog';
import type { StoredService } from '../grants/model';
import { ensureConfiguredServices } from '../grants/service';
import { logger } from '../logger';
import { canonicalPolicy, type AppliedPolicy } from './auth-policies';
import { sha256 } from './compile';
import { convergeService, type ConvergeResult } from './converge';
import { clock, type PolicyDeps } from './deps';
import { dropExpired } from './revocations';
import { errorCode, errorText, failedEvent } from './sync-failed';

export type DriftFinding = 'missing' | 'changed-outside-trellis' | 'behind-grants';

export interface ReconcileSummary {
  services: number;
  inSync: number;
  repaired: { service: string; found: DriftFinding }[];
  failed: { service: string; code: string }[];
}

/** Why the applied policy differed: none; not what Trellis last applied (drift); or what it applied, for older grants. */
function classify(before: AppliedPolicy | undefined, service: StoredService): DriftFinding {
  if (before === undefined) return 'missing';
  const canonical = canonicalPolicy(before.policy);
  return canonical !== undefined && sha256(canonical) === service.appliedPolicySha256 ? 'behind-grants' : 'changed-outside-trellis';
}

async function reconcileOne(deps: PolicyDeps, name: string, summary: ReconcileSummary): Promise<void> {
  let result: ConvergeResult;
  try {
    result = await convergeService(deps, name, { bump: false });
  } catch (error) {
    // Reported, not rethrown: the other services still get reconciled, and the next run retries this one.
    logger.error('reconcile of a service failed', { latticeService: name, error: error instanceof Error ? error : String(error) });
    summary.failed.push({ service: name, code: errorCode(error) });
    const service = await deps.services.get(name).catch(() => undefined);
    await deps.publisher.publish([failedEvent(name, service?.arn ?? null, { code: errorCode(error), message: errorText(error) }, true, 'reconcile', null)]);
    return;
  }
  if (result.outcome === 'unknown-service') return;
  if (result.outcome === 'too-large') {
    summary.failed.push({ service: name, code: 'PolicyTooLarge' });
    await deps.publisher.publish([failedEvent(name, result.service.arn, result.tooLarge, false, 'reconcile', null)]);
    return;
  }
  if (!result.changed) {
    summary.inSync += 1;
    return;
  }
  const found = classify(result.before, result.service);
  const previous = result.before === undefined ? undefined : (canonicalPolicy(result.before.policy) ?? result.before.policy);
  summary.repaired.push({ service: name, found });
  logger.warn('auth policy drift repaired', { latticeService: name, found });
  await deps.publisher.publish([
    pendingEvent('PolicyDriftRepaired', {
      service: name,
      serviceArn: result.service.arn,
      found,
      previousPolicySha256: previous === undefined ? null : sha256(previous),
      previousBytes: result.before === undefined ? null : Buffer.byteLength(result.before.policy, 'utf8'),
      policySha256: sha256(result.compiled.policy),
      bytes: result.compiled.bytes,
    }),
  ]);
}

/** One managed service, reconciled as the schedule does (same classification, same events). */
export async function reconcileService(deps: PolicyDeps, name: string): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { services: 1, inSync: 0, repaired: [], failed: [] };
  await reconcileOne(deps, name, summary);
  return summary;
}

/**
 * The scheduled reconcile: drops the revoked certificates past notAfter (their deny entries leave
 * every policy: an expired certificate gets no session), then every managed service, `concurrency`
 * at a time.
 */
export async function reconcileAll(deps: PolicyDeps, options: { concurrency?: number } = {}): Promise<ReconcileSummary> {
  await ensureConfiguredServices(deps);
  if (deps.revocations !== undefined) {
    const dropped = await dropExpired(deps.revocations, clock(deps));
    if (dropped.length > 0) logger.info('expired revoked certificates dropped from the auth policies', { serials: dropped });
  }
  const names = (await deps.services.all()).map((s) => s.name).sort();
  const summary: ReconcileSummary = { services: names.length, inSync: 0, repaired: [], failed: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next] as string;
      next += 1;
      await reconcileOne(deps, name, summary);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, names.length)) }, worker));
  // Every run reports, zero included: a service still out of sync on the next run has been out of sync for a whole period.
  deps.metrics?.emit('PoliciesOutOfSync', summary.failed.length);
  return summary;
}
