/** Rule on WorkloadDeleted: deletes the grants naming the workload's exact SPIFFE ID (each emits GrantChanged). */
import type { EventBridgeEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { grantsDeps } from '../../shared/grants/deps';
import { lambdaHandler } from '../../shared/handler';
import { removeWorkloadGrants } from '../../shared/grants/service';
import { logger } from '../../shared/logger';

const deps = grantsDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<'WorkloadDeleted', unknown>): Promise<{ removed: string[] }> => {
  const detail = parseDetail('WorkloadDeleted', event.detail);
  const removed = await removeWorkloadGrants(deps, detail.spiffeId, detail.occurredAt);
  logger.info('grants of a deleted workload removed', { spiffeId: detail.spiffeId, removed: removed.map((g) => g.id) });
  return { removed: removed.map((g) => g.id) };
});
