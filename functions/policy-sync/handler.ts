/**
 * Rule on GrantChanged, ServiceRegistered and GrantSetReplaced: brings the service's Lattice auth
 * policy to the compilation of its current grants (shared/policy-sync/sync.ts, converge.ts).
 * SvidRevoked: records the revoked certificate and syncs every managed service, so each policy
 * denies its sessions (shared/policy-sync/revocation-sync.ts).
 * Throwing makes EventBridge retry. The GrantChanged of a grant set (cause `grant-set`) are left
 * to the set's one GrantSetReplaced, so a set is applied in one sync.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { parseDetail } from '../../shared/events/catalog';
import { lambdaHandler } from '../../shared/handler';
import { policyDeps } from '../../shared/policy-sync/deps';
import { denyRevokedCertificate } from '../../shared/policy-sync/revocation-sync';
import { syncServicePolicy } from '../../shared/policy-sync/sync';

const deps = policyDeps();

export const handler = lambdaHandler(async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const detailType = event['detail-type'];
  if (detailType === 'SvidRevoked') {
    await denyRevokedCertificate(deps, parseDetail('SvidRevoked', event.detail));
    return;
  }
  if (detailType !== 'GrantChanged' && detailType !== 'ServiceRegistered' && detailType !== 'GrantSetReplaced') {
    throw new Error(`policy sync: unexpected detail-type ${detailType}; the rule matches GrantChanged, ServiceRegistered, GrantSetReplaced and SvidRevoked only`);
  }
  const detail = parseDetail(detailType, event.detail);
  if ('cause' in detail && detail.cause === 'grant-set') return;
  await syncServicePolicy(deps, detail.service, detailType, detail.eventId, detail.occurredAt);
});
