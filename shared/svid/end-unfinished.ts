/**
 * Ends a request that cannot complete — its queue message's last receive failed, or the watchdog's
 * re-drive threw — explicitly, as SvidIssuanceFailed with a reason, so no request stays pending.
 *
 * - A registration request the issuer never saw (its item does not name it yet) is recorded
 *   first, so what GET /workloads/{id}/svid shows is the failure, not "pending" forever.
 * - The failure is stored first (a conditional write on "still this pending request"); only then
 *   is anything issued for it and never stored revoked — the recorded certificate ARN, or what the
 *   CA lists for the request's validity window where the CA can list (issued-lookup.ts). In that
 *   order a delivery finishing concurrently either wins (the failure is not written, nothing is
 *   revoked) or loses and finds the request ended (issue.ts revokes its own certificate then).
 */
import type { EventDetail } from '../events/catalog';
import { logger } from '../logger';
import type { IssuerDeps } from './deps';
import { fail, publishDirectly, recordDeliveredRequest, type Failure, type IssueOutcome } from './end-request';
import { serialFromCertificateArn } from './pca-client';
import { abandonCertificate } from './pca-retries';

type SvidRequested = EventDetail<'SvidRequested'>;

export async function endUnfinished(deps: IssuerDeps, request: SvidRequested, failure: Failure): Promise<IssueOutcome> {
  let state = await deps.svids.get(request.workloadId);
  if (state?.request?.requestId !== request.requestId) {
    const workload = await deps.workloads.get(request.workloadId);
    if (workload && workload.spiffeId === request.spiffeId && workload.createdAt <= request.requestedAt) state = await recordDeliveredRequest(deps, workload, request);
  }
  const ours = state?.request?.requestId === request.requestId ? state : undefined;
  if (ours !== undefined && ours.status !== 'pending') return { outcome: 'duplicate' };
  const inFlight = ours?.inFlight?.requestId === request.requestId ? ours.inFlight : undefined;

  const outcome = await fail(deps, request, failure, ours?.svid);
  if (outcome.outcome !== 'failed' || inFlight === undefined) return outcome;

  const recorded = inFlight.certificateArn === undefined ? undefined : serialFromCertificateArn(inFlight.certificateArn);
  let serials: string[] = recorded === undefined ? [] : [recorded];
  if (recorded === undefined && deps.issuedLookup !== undefined) {
    serials = await deps.issuedLookup.find({ spiffeId: request.spiffeId, notBefore: new Date(inFlight.notBefore), notAfter: new Date(inFlight.notAfter) }).catch((error: unknown) => {
      logger.error('could not ask the CA what it issued for an unfinished request', { requestId: request.requestId, error: String(error) });
      return [];
    });
  }
  const revoked = (await Promise.all(serials.map((serial) => abandonCertificate(deps, request, serial, 'SUPERSEDED')))).flat();
  await publishDirectly(deps, revoked);
  return outcome;
}
