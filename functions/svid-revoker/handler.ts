/** Target of the rule on WorkloadDeleted: revokes every certificate of the workload and emits SvidRevoked. */
import type { EventBridgeEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { lambdaHandler } from '../../shared/handler';
import { revokeWorkloadSvids } from '../../shared/svid/revoke';
import { pcaDeps } from '../../shared/svid/deps';

const deps = pcaDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<'WorkloadDeleted', unknown>): Promise<{ revoked: string[] }> =>
  revokeWorkloadSvids(deps, parseDetail('WorkloadDeleted', event.detail)),
);
