/** SVID API: submit a CSR, read a workload's SVID, revoke it, read the trust bundle. Parse, authorise, call, answer. */
import * as z from 'zod';
import { apiHandler, requireBody } from '../../shared/http/api';
import { callerIsOneOf, type Caller } from '../../shared/http/caller';
import { parseInput } from '../../shared/http/validation';
import { forbidden, TrellisError, validationError } from '../../shared/errors';
import { MAX_CSR_BYTES } from '../../shared/workloads/model';
import type { StoredWorkload } from '../../shared/workloads/model';
import { loadWorkload, submitCsr } from '../../shared/svid/submit';
import { DEFAULT_TUNING } from '../../shared/svid/tuning';
import { svidView } from '../../shared/svid/view';
import { halfLifeAt } from '../../shared/svid/lifetime';
import { pcaDeps } from '../../shared/svid/deps';
import { toSpiffeBundle } from '../../shared/svid/bundle';
import { revokeCurrentSvid } from '../../shared/svid/revoke-current';
import { REVOCATION_REASONS, type RevocationReasonName } from '../../shared/events/catalog';

const deps = pcaDeps();
const REFRESH = DEFAULT_TUNING.bundleRefreshSeconds;

const csrBody = z.strictObject({
  csr: z
    .string()
    .max(MAX_CSR_BYTES, `must be at most ${MAX_CSR_BYTES} bytes (the ACM Private CA limit)`)
    .regex(/-----BEGIN CERTIFICATE REQUEST-----/, 'must be a PEM "CERTIFICATE REQUEST"'),
});

/**
 * The revocation reasons the API takes, in the RFC 5280 spelling, each mapped to ACM Private CA's
 * RevocationReason (RevokeCertificate); ACM Private CA's own spelling (KEY_COMPROMISE...) is accepted too.
 */
const RFC5280_REASONS = {
  unspecified: 'UNSPECIFIED',
  keyCompromise: 'KEY_COMPROMISE',
  cACompromise: 'CERTIFICATE_AUTHORITY_COMPROMISE',
  affiliationChanged: 'AFFILIATION_CHANGED',
  superseded: 'SUPERSEDED',
  cessationOfOperation: 'CESSATION_OF_OPERATION',
  privilegeWithdrawn: 'PRIVILEGE_WITHDRAWN',
  aACompromise: 'A_A_COMPROMISE',
} as const satisfies Record<string, RevocationReasonName>;

function revocationReasonOf(given: string): RevocationReasonName | undefined {
  if (Object.hasOwn(RFC5280_REASONS, given)) return RFC5280_REASONS[given as keyof typeof RFC5280_REASONS];
  return REVOCATION_REASONS.find((r) => r === given);
}

/** `reason` as given (echoed in the answer) and the RevocationReason it names. */
const revokeBody = z.strictObject({
  reason: z.string().transform((given, ctx) => {
    const revocationReason = revocationReasonOf(given);
    if (revocationReason !== undefined) return { given, revocationReason };
    ctx.addIssue({
      code: 'custom',
      message: `must be one of ${Object.keys(RFC5280_REASONS).join(', ')} (or ACM Private CA's RevocationReason spelling: ${REVOCATION_REASONS.join(', ')})`,
      params: { rule: 'enum' },
    });
    return z.NEVER;
  }),
});

/** Administrators, and the principals the entry names in selectors.awsPrincipalArns. */
function requireWorkloadAccess(caller: Caller, workload: StoredWorkload, action: string): void {
  if (caller.isAdmin || callerIsOneOf(caller, workload.selectors.awsPrincipalArns)) return;
  throw forbidden(`${caller.arn} may not ${action} of workload ${workload.id}: only administrators and the principals in its selectors.awsPrincipalArns may`);
}

export const handler = apiHandler({
  'POST /workloads/{id}/csr': async (req) => {
    const workload = await loadWorkload(deps, req.params.id ?? '');
    requireWorkloadAccess(req.caller, workload, 'submit a CSR for the SVID');
    const { csr } = parseInput(csrBody, requireBody(req));
    const request = await submitCsr(deps, workload, csr);
    return {
      status: 202,
      headers: { Location: `/workloads/${workload.id}/svid` },
      body: { workloadId: workload.id, spiffeId: workload.spiffeId, requestId: request.requestId, requestedAt: request.requestedAt, status: 'pending' },
    };
  },

  'GET /workloads/{id}/svid': async (req) => {
    const workload = await loadWorkload(deps, req.params.id ?? '');
    requireWorkloadAccess(req.caller, workload, 'read the SVID');
    const view = await svidView(deps, workload);
    switch (view.kind) {
      case 'none':
        throw new TrellisError('SvidNotRequested', 404, `No SVID has been requested for workload ${workload.id}: submit a CSR with POST /workloads/${workload.id}/csr`);
      case 'pending': {
        throw new TrellisError(
          'SvidPending',
          404,
          `The SVID of workload ${workload.id} is being issued (request ${view.request.requestId}, ${view.request.trigger}, made ${view.request.requestedAt}); GET it again in a moment`,
          { headers: { 'Retry-After': '1' } },
        );
      }
      case 'failed': {
        const failure = view.request.failure ?? { reason: 'unknown', message: 'no reason was recorded' };
        throw new TrellisError('SvidIssuanceFailed', 409, `Request ${view.request.requestId} for workload ${workload.id} failed (${failure.reason}): ${failure.message}`, {
          details: [{ field: 'csr', rule: failure.reason, message: failure.message }],
        });
      }
      case 'issued': {
        const { svid } = view;
        return {
          status: 200,
          body: {
            workloadId: workload.id,
            spiffeId: workload.spiffeId,
            status: view.request.status,
            certificatePem: svid.certificatePem,
            chainPem: svid.chainPem,
            trustBundlePem: await deps.ca.bundlePem(),
            serialNumber: svid.serialNumber,
            notBefore: svid.notBefore,
            notAfter: svid.notAfter,
            renewAfter: halfLifeAt({ notBefore: new Date(svid.notBefore), notAfter: new Date(svid.notAfter) }).toISOString(),
            latestRequest: view.request,
          },
        };
      }
    }
  },

  'POST /workloads/{id}/svid/revoke': async (req) => {
    const workload = await loadWorkload(deps, req.params.id ?? '');
    requireWorkloadAccess(req.caller, workload, 'revoke the SVID');
    const { reason } = parseInput(revokeBody, requireBody(req));
    const revoked = await revokeCurrentSvid(deps, workload, reason.revocationReason);
    return {
      status: 200,
      body: { workloadId: workload.id, spiffeId: revoked.spiffeId, serialNumber: revoked.serialNumber, reason: reason.given, revocationReason: revoked.reason, notAfter: revoked.notAfter },
    };
  },

  'GET /bundle': async (req) => {
    const format = req.query.format ?? 'pem';
    if (format !== 'pem' && format !== 'spiffe') {
      throw validationError(`format must be "pem" (the default) or "spiffe", not "${format}"`, [{ field: 'format', rule: 'enum', message: 'must be "pem" or "spiffe"' }]);
    }
    const pem = await deps.ca.bundlePem();
    const cache = { 'Cache-Control': `max-age=${REFRESH}` };
    if (format === 'pem') return { status: 200, body: pem, contentType: 'application/x-pem-file', headers: cache };
    return { status: 200, body: await toSpiffeBundle([pem], { refreshHintSeconds: REFRESH }), headers: cache };
  },
});
