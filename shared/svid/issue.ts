/**
 * Issue (the target of SvidRequested): turns a workload's pending request into an X.509-SVID
 * through ACM Private CA, or ends it explicitly failed.
 *
 * Guarantees, and how:
 * - Identity never comes from the CSR: the SPIFFE ID, the DNS names and the subject are set through
 *   ApiPassthrough with an APIPassthrough template (pca-client.ts), and the CSR is checked first
 *   anyway (csr.ts) because ACM PCA copies CSR names wherever the API gives none.
 * - Lifetime = TTL: ValidityNotBefore = now - CLOCK_SKEW, Validity ABSOLUTE = notBefore + TTL (the
 *   relative types have a one-day minimum; the default NotBefore is an hour early).
 * - One certificate per request: the validity window is claimed once per request in the item, so
 *   every (re)delivery sends the same parameters with the same IdempotencyToken; the certificate ARN
 *   is recorded as soon as it is known, so a later redelivery resumes with GetCertificate; and a
 *   finished request is never processed again.
 * - Every request ends issued or explicitly failed (SvidIssuanceFailed): CSR refusals, PCA refusals,
 *   retries exhausted, a certificate that never became ready, one that breaks the X509-SVID rules,
 *   a workload deleted meanwhile, a newer request. What ends a request that no delivery finishes is
 *   outside: the last queue receive (issue-delivery.ts) and the watchdog (watchdog.ts), which
 *   re-drives it through this same function.
 * - Past ACM PCA's idempotency window, a window claimed without a recorded certificate ARN may have
 *   a certificate nobody recorded: it is looked up where the CA can list (issued-lookup.ts) and
 *   used, or, where it cannot (AWS), the request ends `issuance-unconfirmed` instead of risking a
 *   second certificate.
 */
import type { SigningAlgorithm } from '@aws-sdk/client-acm-pca';
import { pendingEvent, type EventDetail } from '../events/catalog';
import { logger } from '../logger';
import { checkCsr } from './csr';
import { clock, tuningOf, type IssuerDeps } from './deps';
import { fail, flush, lostClaim, publishDirectly, recordDeliveredRequest, type IssueOutcome } from './end-request';
import { idempotencyToken, issuanceWindow, svidApiPassthrough } from './issue-parameters';
import { halfLifeAt } from './lifetime';
import { classifyPcaError, partitionOf, pcaErrorMessage, pcaErrorName, serialFromCertificateArn, svidTemplateArn } from './pca-client';
import { abandonCertificate, issueWithRetries, waitForCertificate, withPcaRetries, type IssueBudget } from './pca-retries';
import { belongsTo, type InFlight, type IssuedSvid, type SvidState } from './model';
import { checkX509Svid } from './x509-svid';

export type { IssueOutcome } from './end-request';
export type { IssueBudget } from './pca-retries';

type SvidRequested = EventDetail<'SvidRequested'>;

export async function issueSvid(deps: IssuerDeps, request: SvidRequested, budget: IssueBudget): Promise<IssueOutcome> {
  const tuning = tuningOf(deps);
  const workload = await deps.workloads.get(request.workloadId);
  if (!workload || workload.spiffeId !== request.spiffeId || workload.createdAt > request.requestedAt) {
    return fail(deps, request, { reason: 'workload-deleted', message: `workload ${request.workloadId} no longer exists as it was when this SVID was requested (deleted, or registered again)` }, undefined);
  }

  // 1. This request must be the item's pending one. A CSR given at registration is first seen here.
  let state = await deps.svids.get(workload.id);
  const isThisRequest = (s: SvidState | undefined): s is SvidState => belongsTo(s, workload) && s.request?.requestId === request.requestId;
  if (!isThisRequest(state)) {
    state = await recordDeliveredRequest(deps, workload, request);
    if (!isThisRequest(state)) {
      const lost = await lostClaim(deps, request);
      return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, undefined);
    }
  }
  if (state.status !== 'pending') return { outcome: 'duplicate' };
  const currentSvid = belongsTo(state, workload) ? state.svid : undefined;

  // 2. The CSR may ask only for what the entry grants (the API passthrough overrides it anyway).
  const csr = await checkCsr(request.csr, { spiffeId: workload.spiffeId, dnsNames: workload.dnsNames });
  if (!csr.ok) return fail(deps, request, { reason: csr.reason, message: csr.message }, currentSvid);

  // 3. The CA: its signing algorithm (the family must match its key) and state.
  let signingAlgorithm: SigningAlgorithm;
  try {
    const ca = await withPcaRetries(deps, () => deps.ca.describe());
    if (ca.status !== 'ACTIVE') {
      return fail(deps, request, { reason: 'ca-not-active', message: `the certificate authority ${deps.ca.pca.caArn} is ${ca.status}, not ACTIVE; an administrator must fix the CA` }, currentSvid);
    }
    signingAlgorithm = ca.signingAlgorithm;
  } catch (error) {
    const kind = classifyPcaError(error);
    const reason = kind === 'throttled' || kind === 'transient' ? 'pca-unavailable' : 'pca-rejected';
    return fail(deps, request, { reason, message: `DescribeCertificateAuthority ${deps.ca.pca.caArn} failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` }, currentSvid);
  }

  // 4. Claim the validity window (a concurrent or earlier delivery of the request may have).
  const now = clock(deps);
  const window = issuanceWindow(now, workload.x509SvidTtlSeconds, tuning.clockSkewSeconds);
  const fresh: InFlight = { requestId: request.requestId, notBefore: window.notBefore.toISOString(), notAfter: window.notAfter.toISOString(), startedAt: now.toISOString() };
  let claimed = await deps.svids.claimInFlight(workload.id, fresh);
  const staleBefore = new Date(now.getTime() - tuning.idempotencyWindowMs).toISOString();
  const stale = claimed?.inFlight;
  if (stale && stale.requestId === request.requestId && stale.certificateArn === undefined && stale.startedAt < staleBefore) {
    // ACM PCA has forgotten this window's IdempotencyToken: an earlier delivery may have been issued a
    // certificate and died before recording it. Sending the token again could issue a second one.
    const previous = { notBefore: new Date(stale.notBefore), notAfter: new Date(stale.notAfter) };
    if (deps.issuedLookup === undefined) {
      return fail(deps, request, { reason: 'issuance-unconfirmed', message: `an IssueCertificate call for this request (started ${stale.startedAt}) may have succeeded without being recorded, and ACM Private CA offers no API to look it up; so as not to issue a second certificate, submit the CSR again (an audit report of the CA shows any certificate with NotBefore ${stale.notBefore})` }, currentSvid);
    }
    const [keep, ...extra] = await deps.issuedLookup.find({ spiffeId: workload.spiffeId, ...previous });
    if (keep !== undefined) {
      const revoked = (await Promise.all(extra.map((serial) => abandonCertificate(deps, request, serial, 'SUPERSEDED')))).flat();
      if (revoked.length > 0) await publishDirectly(deps, revoked);
      claimed = await deps.svids.recordCertificateArn(workload.id, request.requestId, `${deps.ca.pca.caArn}/certificate/${keep}`, keep);
    } else {
      claimed = (await deps.svids.claimInFlight(workload.id, fresh, { replaceStartedBefore: staleBefore })) ?? (await deps.svids.get(workload.id));
    }
  }
  const inFlight = claimed?.inFlight;
  if (!claimed || inFlight?.requestId !== request.requestId || claimed.status !== 'pending' || claimed.request?.requestId !== request.requestId) {
    const lost = await lostClaim(deps, request);
    return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, currentSvid);
  }
  const notBefore = new Date(inFlight.notBefore);
  const notAfter = new Date(inFlight.notAfter);

  // 5. IssueCertificate, once per request: the ARN is recorded before anything else can fail.
  let certificateArn = inFlight.certificateArn;
  if (certificateArn === undefined) {
    const issued = await issueWithRetries(deps, budget, {
      csrPem: request.csr,
      signingAlgorithm,
      templateArn: svidTemplateArn(partitionOf(deps.ca.pca.caArn)),
      apiPassthrough: svidApiPassthrough(workload.spiffeId, workload.dnsNames),
      notBefore,
      notAfter,
      idempotencyToken: idempotencyToken(request.requestId, notBefore),
    });
    if (!issued.ok) return fail(deps, request, issued, currentSvid);
    certificateArn = issued.certificateArn;
    deps.faults?.afterIssueCertificate?.(certificateArn);
    const recorded = await deps.svids.recordCertificateArn(workload.id, request.requestId, certificateArn, serialFromCertificateArn(certificateArn));
    if (!recorded) {
      const lost = await lostClaim(deps, request);
      if (lost.duplicate) {
        // The request ended meanwhile (the watchdog, or another delivery). Unless this very
        // certificate is the SVID it ended with, nobody will ever store it: revoke it.
        const latest = await deps.svids.get(workload.id);
        if (latest?.svid?.certificateArn !== certificateArn) await publishDirectly(deps, await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), 'SUPERSEDED'));
        return { outcome: 'duplicate' };
      }
      const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), lost.failure.reason === 'workload-deleted' ? 'CESSATION_OF_OPERATION' : 'SUPERSEDED');
      return fail(deps, request, lost.failure, currentSvid, revoked);
    }
  }

  // 6. Wait for it (bounded), then check it against the X509-SVID rules before anyone sees it.
  const fetched = await waitForCertificate(deps, certificateArn);
  if (!fetched.ok) {
    // ACM PCA may still issue it after we stop waiting: revoke it so no unrecorded certificate stays valid.
    const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), 'SUPERSEDED');
    return fail(deps, request, fetched, currentSvid, revoked);
  }
  let bundlePem: string;
  try {
    bundlePem = await withPcaRetries(deps, () => deps.ca.bundlePem());
  } catch (error) {
    return fail(deps, request, { reason: 'pca-unavailable', message: `GetCertificateAuthorityCertificate failed: ${pcaErrorName(error)}: ${pcaErrorMessage(error)}` }, currentSvid);
  }
  const check = await checkX509Svid(fetched.certificatePem, { spiffeId: workload.spiffeId, notBefore, notAfter, caCertPem: bundlePem });
  if (!check.ok) {
    const revoked = await abandonCertificate(deps, request, serialFromCertificateArn(certificateArn), 'UNSPECIFIED');
    const message = `the certificate ACM Private CA returned breaks the X509-SVID rules, so it was not stored${revoked.length > 0 ? ' and was revoked' : ''}: ${check.violations.map((v) => `${v.rule}: ${v.message}`).join('; ')}`;
    return fail(deps, request, { reason: 'svid-check-failed', message }, currentSvid, revoked);
  }

  // 7. Store and announce.
  const storedAt = clock(deps);
  const svid: IssuedSvid = {
    requestId: request.requestId,
    trigger: request.trigger,
    serialNumber: check.serialHex,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    certificatePem: fetched.certificatePem,
    chainPem: fetched.chainPem,
    certificateArn,
    issuedAt: storedAt.toISOString(),
    csr: request.csr,
  };
  const issuedEvent = pendingEvent(
    'SvidIssued',
    {
      workloadId: workload.id,
      spiffeId: workload.spiffeId,
      requestId: request.requestId,
      trigger: request.trigger,
      serialNumber: svid.serialNumber,
      notBefore: svid.notBefore,
      notAfter: svid.notAfter,
      certificateArn,
      requestedAt: request.requestedAt,
      ...(request.trigger === 'renewal' && currentSvid !== undefined ? { renewalDueAt: halfLifeAt({ notBefore: new Date(currentSvid.notBefore), notAfter: new Date(currentSvid.notAfter) }).toISOString() } : {}),
    },
    storedAt,
  );
  const stored = await deps.svids.storeIssued(workload.id, svid, halfLifeAt({ notBefore, notAfter }), [issuedEvent], storedAt);
  if (!stored) {
    const latest = await deps.svids.get(workload.id);
    if (latest?.svid?.serialNumber === svid.serialNumber || (latest?.request?.requestId === request.requestId && latest.status !== 'pending')) return { outcome: 'duplicate' };
    const lost = await lostClaim(deps, request);
    const revoked = await abandonCertificate(deps, request, svid.serialNumber, lost.duplicate || lost.failure.reason !== 'workload-deleted' ? 'SUPERSEDED' : 'CESSATION_OF_OPERATION');
    return lost.duplicate ? { outcome: 'duplicate' } : fail(deps, request, lost.failure, currentSvid, revoked);
  }
  await flush(deps, stored);
  logger.info('SVID issued', { workloadId: workload.id, requestId: request.requestId, serialNumber: svid.serialNumber, trigger: request.trigger, notAfter: svid.notAfter });
  return { outcome: 'issued', serialNumber: svid.serialNumber };
}
