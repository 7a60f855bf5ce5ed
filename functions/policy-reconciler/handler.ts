/**
 * Scheduled: recompiles every managed service's policy, compares it with what Lattice has and
 * repairs any difference (a policy changed or removed outside Trellis, or a sync that never ran),
 * emitting PolicyDriftRepaired. Failures of single services are reported as PolicySyncFailed and
 * retried by the next run; a failure to publish fails the invocation.
 */
import { lambdaHandler } from '../../shared/handler';
import { logger } from '../../shared/logger';
import { policyDeps } from '../../shared/policy-sync/deps';
import { reconcileAll, type ReconcileSummary } from '../../shared/policy-sync/reconcile';

const deps = policyDeps();

export const handler = lambdaHandler(async (): Promise<ReconcileSummary> => {
  const summary = await reconcileAll(deps);
  logger.info('policy reconcile finished', { services: summary.services, inSync: summary.inSync, repaired: summary.repaired, failed: summary.failed });
  return summary;
});
