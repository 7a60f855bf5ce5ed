/**
 * Revoke on request (POST /workloads/{id}/svid/revoke): the workload's current certificate is
 * revoked at ACM Private CA with the given RevocationReason and announced with SvidRevoked (serial,
 * SPIFFE ID, reason, notAfter), on which every managed auth policy denies its sessions. The entry
 * stays: a new CSR gets a new SVID (a new key after a key compromise), whose sessions stay allowed.
 */
import { TrellisError } from '../errors';
import { pendingEvent, type RevocationReasonName } from '../events/catalog';
import { logger } from '../logger';
import type { StoredWorkload } from '../workloads/model';
import { clock, type PcaDeps } from './deps';
import { flush } from './end-request';
import { belongsTo } from './model';
import { revokeWithRetries } from './pca-retries';

export interface RevokedSvid {
  serialNumber: string;
  spiffeId: string;
  reason: RevocationReasonName;
  notAfter: string;
}

export async function revokeCurrentSvid(deps: PcaDeps, workload: StoredWorkload, reason: RevocationReasonName): Promise<RevokedSvid> {
  const state = await deps.svids.get(workload.id);
  const svid = belongsTo(state, workload) ? state.svid : undefined;
  if (svid === undefined) {
    throw new TrellisError('NoSvidToRevoke', 409, `Workload ${workload.id} has no issued SVID to revoke (none issued yet, or it was already revoked); GET /workloads/${workload.id}/svid shows its state`);
  }
  const now = clock(deps);
  if (Date.parse(svid.notAfter) <= now.getTime()) {
    throw new TrellisError('SvidExpired', 409, `The SVID of workload ${workload.id} (serial ${svid.serialNumber}) expired at ${svid.notAfter}: an expired certificate gets no session, so there is nothing to revoke`);
  }
  const result = await revokeWithRetries(deps, svid.serialNumber, reason);
  if (result === 'skipped') {
    throw new TrellisError('SvidNotRevocable', 409, `ACM Private CA refused to revoke the SVID of workload ${workload.id} (serial ${svid.serialNumber}); see the logs of the SVID API`);
  }
  const revoked: RevokedSvid = { serialNumber: svid.serialNumber, spiffeId: workload.spiffeId, reason, notAfter: svid.notAfter };
  const event = pendingEvent('SvidRevoked', { workloadId: workload.id, ...revoked }, now);
  const failure = {
    requestId: svid.requestId,
    reason: 'revoked',
    message: `the SVID (serial ${svid.serialNumber}) was revoked (${reason}) at ${now.toISOString()}; submit a new CSR with POST /workloads/${workload.id}/csr for a new one`,
    at: now.toISOString(),
  };
  const stored = await deps.svids.recordCurrentRevoked(workload.id, svid.serialNumber, failure, [event], now);
  if (stored) await flush(deps, stored);
  else {
    // The SVID changed meanwhile (renewed, or the workload deleted): the certificate is revoked all
    // the same, so the event must still go out for the policies to deny its sessions.
    await deps.publisher.publish([event]);
  }
  logger.info('SVID revoked on request', { workloadId: workload.id, serialNumber: svid.serialNumber, reason });
  return revoked;
}
