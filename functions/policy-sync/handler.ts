/**
 * Rule on GrantChanged and ServiceRegistered: brings the service's Lattice auth policy to the
 * compilation of its current grants (shared/policy-sync/sync.ts, converge.ts). Throwing makes EventBridge retry.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { lambdaHandler } from '../../shared/handler';
import { policyDeps } from '../../shared/policy-sync/deps';
import { syncServicePolicy } from '../../shared/policy-sync/sync';

const deps = policyDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const detailType = event['detail-type'];
  if (detailType !== 'GrantChanged' && detailType !== 'ServiceRegistered') {
    throw new Error(`policy sync: unexpected detail-type ${detailType}; the rule matches GrantChanged and ServiceRegistered only`);
  }
  const detail = parseDetail(detailType, event.detail);
  await syncServicePolicy(deps, detail.service, detailType, detail.eventId);
});
