/**
 * Drift repair (the target of the CloudTrail rule on the default bus): a PutAuthPolicy,
 * DeleteAuthPolicy or UpdateService on a managed service, by anyone but Trellis's own policy
 * writers, reconciles that service at once — the same reconcile the schedule runs (PolicyDriftRepaired
 * when it had to put), so drift lasts seconds instead of up to one schedule period.
 *
 * Throwing makes EventBridge retry: a reconcile that failed is reported (PolicySyncFailed) and
 * rethrown, so the repair is retried before the schedule would get to it.
 */
import { ensureConfiguredServices } from '../grants/service';
import { logger } from '../logger';
import type { PolicyDeps } from './deps';
import { decideDrift, type DriftDecision } from './drift-trigger';
import { reconcileService, type ReconcileSummary } from './reconcile';

export interface DriftRepairDeps extends PolicyDeps {
  /** Trellis's own policy writer roles (setting POLICY_WRITER_ROLE_ARNS): their calls are not drift. */
  writerRoleArns: readonly string[];
}

export type DriftRepairOutcome = { decision: DriftDecision; summary?: ReconcileSummary };

export async function repairDrift(deps: DriftRepairDeps, detail: unknown): Promise<DriftRepairOutcome> {
  await ensureConfiguredServices(deps);
  const decision = decideDrift(detail, await deps.services.all(), deps.writerRoleArns);
  if (decision.action === 'ignore') {
    logger.debug('CloudTrail event ignored', { reason: decision.reason, identifier: decision.identifier, caller: decision.caller });
    return { decision };
  }
  const name = decision.service.name;
  logger.info('auth policy touched outside Trellis; reconciling the service', { latticeService: name, eventName: decision.eventName, caller: decision.caller });
  const summary = await reconcileService(deps, name);
  if (summary.failed.some((f) => f.code !== 'PolicyTooLarge')) {
    throw new Error(`drift repair of service ${name} failed (${summary.failed.map((f) => f.code).join(', ')}); the event is retried`);
  }
  // Trellis manages the policy, not the auth type: an auth type set to NONE leaves the policy stored
  // but Inactive, which only a person (or the stage's template) can undo.
  if (decision.eventName === 'UpdateService' && (detail as { requestParameters?: { authType?: unknown } }).requestParameters?.authType === 'NONE') {
    logger.warn('service auth type set to NONE outside Trellis: its auth policy is not enforced', { latticeService: name, caller: decision.caller });
  }
  return { decision, summary };
}
