/**
 * Revocation: the time from POST /workloads/{id}/svid/revoke to the first call denied through the
 * local Lattice data plane with credentials obtained before it (p50, p95), the time until a new
 * CreateSession with the revoked certificate is refused (the local CA's CRL imported into the local
 * Roles Anywhere), and the auth-policy bytes each revoked certificate costs.
 * Run alone: `node --import tsx bench/run.ts revocation`.
 *
 * On the in-process stack (test/support/in-process-stack.ts): dynalite, the local EventBridge
 * delivering to the functions in this process, the local Lattice control plane and data plane, the
 * local Roles Anywhere and ACM PCA over HTTP through the real SDK clients. On AWS the Lattice side
 * adds the time Lattice takes to apply a PutAuthPolicy, and the Roles Anywhere side waits for the
 * CA's next CRL (about 30 minutes after a revocation): neither exists locally.
 */
import { signedFetch, Workload, type RolesAnywhereSettings } from '@trellis/client';
import { LOCAL_IDENTITY, LOCAL_REGION } from '../local/stand-ins';
import { compilePolicy, DEFAULT_MAX_POLICY_BYTES } from '../shared/policy/compiler';
import { apiEvent, parseResult } from '../test/support/api-events';
import { ADMIN_ARN, startInProcessStack } from '../test/support/in-process-stack';
import { percentile, round, type BenchSection } from './types';

const RUNS = 20;
const POLL_MS = 5;

async function revocationLatency(): Promise<{ denyMs: number[]; crlMs: number[] }> {
  const stack = await startInProcessStack({ dataPlane: true, crlEvents: true });
  try {
    const dataPlane = stack.dataPlane;
    if (dataPlane === undefined) throw new Error('the data plane did not start');
    const api = async (functionKey: string, call: Parameters<typeof apiEvent>[0]): Promise<{ status: number; body: unknown }> =>
      parseResult(await stack.invoke(functionKey, apiEvent({ callerArn: ADMIN_ARN, ...call })));
    const granted = await api('grants', { method: 'POST', resource: '/grants', body: { service: 'billing', caller: 'spiffe://example.org/bench/*' } });
    if (granted.status !== 201) throw new Error(`grant: ${granted.status} ${JSON.stringify(granted.body)}`);
    await stack.bus.waitForIdle(20_000);
    const settings: RolesAnywhereSettings = {
      endpoint: stack.standIns.rolesAnywhere.endpoint,
      region: LOCAL_REGION,
      trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
      profileArn: LOCAL_IDENTITY.profileArn,
      roleArn: LOCAL_IDENTITY.workloadRoleArn,
    };
    const url = `${dataPlane.services.billing as string}/charges`;
    const denyMs: number[] = [];
    const crlMs: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const spiffeId = `spiffe://example.org/bench/w${i}`;
      const workload = await Workload.create({ spiffeId });
      const registered = await api('workloads', { method: 'POST', resource: '/workloads', body: { spiffeId, selectors: { awsPrincipalArns: [ADMIN_ARN] }, csr: workload.csrPem } });
      if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
      const id = (registered.body as { id: string }).id;
      await stack.bus.waitForIdle(20_000);
      const svid = await api('svidApi', { method: 'GET', resource: '/workloads/{id}/svid', path: { id } });
      if (svid.status !== 200) throw new Error(`svid: ${svid.status}`);
      workload.useSvid({ certificatePem: (svid.body as { certificatePem: string }).certificatePem });
      const credentials = await workload.credentials(settings);
      const call = async (): Promise<number> =>
        (await signedFetch({ url, region: LOCAL_REGION, credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken }, ca: dataPlane.caPem })).status;
      if ((await call()) !== 200) throw new Error('the workload was not allowed before its revocation');

      const started = performance.now();
      const revoked = await api('svidApi', { method: 'POST', resource: '/workloads/{id}/svid/revoke', path: { id }, body: { reason: 'keyCompromise' } });
      if (revoked.status !== 200) throw new Error(`revoke: ${revoked.status} ${JSON.stringify(revoked.body)}`);
      let denied = false;
      let sessionRefused = false;
      while (performance.now() - started < 30_000 && !(denied && sessionRefused)) {
        if (!denied && (await call()) === 403) {
          denied = true;
          denyMs.push(performance.now() - started);
        }
        if (!sessionRefused) {
          workload.useSvid({ certificatePem: (svid.body as { certificatePem: string }).certificatePem });
          const refused = await workload.credentials(settings).then(
            () => false,
            () => true,
          );
          if (refused) {
            sessionRefused = true;
            crlMs.push(performance.now() - started);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      if (!denied || !sessionRefused) throw new Error(`run ${i}: denied ${denied}, session refused ${sessionRefused} after 30 s`);
      await stack.bus.waitForIdle(20_000);
    }
    return { denyMs, crlMs };
  } finally {
    await stack.stop();
  }
}

function bytesPerRevokedCertificate(): { perCertificate: number; fitWithReference: number } {
  const options = { serviceArn: 'arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0', principalArn: 'arn:aws:iam::111122223333:role/trellis-bench-workload', trustDomain: 'example.org', maxBytes: Number.MAX_SAFE_INTEGER };
  const grants = [{ id: 'g-orders', caller: 'spiffe://example.org/service/orders' }];
  const serial = (i: number): string => i.toString(16).padStart(32, '0');
  const withRevoked = (n: number): number => compilePolicy(grants, { ...options, revokedSerials: Array.from({ length: n }, (_, i) => serial(i)) }).bytes;
  const perCertificate = withRevoked(101) - withRevoked(100);
  let fit = 0;
  while (withRevoked(fit + 1) <= DEFAULT_MAX_POLICY_BYTES) fit += 1;
  return { perCertificate, fitWithReference: fit };
}

export async function run(): Promise<BenchSection> {
  const { denyMs, crlMs } = await revocationLatency();
  const { perCertificate, fitWithReference } = bytesPerRevokedCertificate();
  return {
    title: 'Revocation: revoke → first denied call, and → CreateSession refused',
    rows: [
      { measure: 'revoke → first call denied (same credentials, data plane)', runs: denyMs.length, p50_ms: round(percentile(denyMs, 50), 1), p95_ms: round(percentile(denyMs, 95), 1) },
      { measure: 'revoke → CreateSession refused (CRL published and imported)', runs: crlMs.length, p50_ms: round(percentile(crlMs, 50), 1), p95_ms: round(percentile(crlMs, 95), 1) },
      { measure: 'auth-policy bytes per revoked certificate (32-digit serial)', runs: 1, p50_ms: perCertificate, p95_ms: perCertificate },
      { measure: 'revoked certificates that fit next to one grant (10,000 bytes)', runs: 1, p50_ms: fitWithReference, p95_ms: fitWithReference },
    ],
    notes: [
      `${RUNS} workloads in turn, each with a session made before its revocation, polled every ${POLL_MS} ms. The last two rows are bytes and a count, not milliseconds.`,
      'Deny path: RevokeCertificate at the local CA, SvidRevoked through the outbox and the local bus, the policy sync (revocations table, recompiling and PutAuthPolicy of every managed service), then the data plane evaluating the new policy.',
      'CRL path: the local CA publishes its CRL at once; ACM Private CA does about 30 minutes after a revocation, so on AWS the second row is that plus the import.',
      'On AWS the deny also waits for Lattice to apply the PutAuthPolicy, which no local figure includes.',
    ],
  };
}
