/**
 * The local Lattice data plane under load: requests per second and p50/p95 latency for SigV4 and mTLS
 * callers (authentication, auth-policy evaluation and the Billing target run in-process), beside a
 * plain TLS listener on the same machine that answers a fixed response (the baseline); and the cost
 * of evaluating an auth policy at the 10 KB quota on its own.
 * Run alone: `node --import tsx bench/run.ts data-plane`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDataPlane } from '../local/lattice/data-plane';
import { createServerTls } from '../local/lattice/data-plane-tls';
import { LOCAL_IDENTITY, startStandIns } from '../local/stand-ins';
import { handler as billing } from '../functions/billing/handler';
import { lambdaContext } from '../test/support/in-process-stack';
import { privateKeyPemFor } from '@trellis/client';
import { signLatticeRequest } from '@trellis/client';
import { Workload } from '@trellis/client';
import { logger } from '../shared/logger';
import { compilePolicy, DEFAULT_MAX_POLICY_BYTES, INVOKE_ACTION, type Grant } from '../shared/policy/compiler';
import { preparePolicy, type EvaluationRequest } from '../shared/policy/evaluator';
import { percentile, round, type BenchSection } from './types';

const CONCURRENCY = 16;
const SECONDS = Number(process.env.BENCH_DATA_PLANE_SECONDS ?? 3);
const ORDERS = 'spiffe://example.org/service/orders';

interface Load {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
}

interface Call {
  url: URL;
  headers: Record<string, string>;
}

/** One GET on a keep-alive agent; resolves with the status once the body is read. */
function get(agent: Agent, call: Call, tls: { ca: string; cert?: string; key?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname: call.url.hostname, port: call.url.port, path: `${call.url.pathname}${call.url.search}`, method: 'GET', headers: call.headers, agent, ...tls },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** CONCURRENCY workers, each sending its next request as soon as the last one answered, for SECONDS. */
async function load(makeCall: () => Promise<Call>, tls: { ca: string; cert?: string; key?: string }, expectStatus: number): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  // Warm up: connections, JIT, policy cache.
  for (let i = 0; i < CONCURRENCY * 4; i += 1) await get(agent, await makeCall(), tls);
  const latenciesMs: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await get(agent, await makeCall(), tls);
        latenciesMs.push(performance.now() - t0);
        if (status !== expectStatus) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests: latenciesMs.length, errors, seconds, latenciesMs };
}

const row = (name: string, result: Load, baselineRps?: number): Record<string, string | number> => {
  const rps = result.requests / result.seconds;
  return {
    case: name,
    requests: result.requests,
    errors: result.errors,
    'req/s': round(rps, 0),
    'p50 ms': round(percentile(result.latenciesMs, 50)),
    'p95 ms': round(percentile(result.latenciesMs, 95)),
    'throughput vs baseline': baselineRps === undefined ? 1 : round(rps / baselineRps, 3),
  };
};

/** Exact-ID grants on one service until the compiled policy is as close to the 10,000-byte quota as they get. */
function policyAtQuota(serviceArn: string): { policy: string; bytes: number; grants: number; lastCaller: string } {
  const options = { serviceArn, principalArn: LOCAL_IDENTITY.workloadRoleArn, trustDomain: 'example.org' };
  const grantsOf = (n: number): Grant[] => Array.from({ length: n }, (_, i) => ({ id: `g${i}`, caller: `spiffe://example.org/service/caller-${String(i).padStart(4, '0')}` }));
  let low = 1;
  let high = 1000;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    try {
      compilePolicy(grantsOf(mid), options);
      low = mid;
    } catch {
      high = mid - 1;
    }
  }
  const compiled = compilePolicy(grantsOf(low), options);
  return { policy: compiled.policy, bytes: compiled.bytes, grants: low, lastCaller: `spiffe://example.org/service/caller-${String(low - 1).padStart(4, '0')}` };
}

function timeEvaluations(evaluate: () => unknown, iterations: number): number {
  for (let i = 0; i < Math.min(1000, iterations); i += 1) evaluate();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i += 1) evaluate();
  return ((performance.now() - t0) * 1000) / iterations;
}

export async function run(): Promise<BenchSection> {
  logger.setLogLevel('ERROR');
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-bench-dp-'));
  const standIns = await startStandIns({ stateDir });
  const stops: (() => Promise<void>)[] = [() => standIns.stop()];
  try {
    const store = standIns.lattice.store;
    const billingArn = store.getServiceByName('billing')?.arn ?? '';
    store.putAuthPolicy(billingArn, compilePolicy([{ id: 'g1', caller: ORDERS }], { serviceArn: billingArn, principalArn: LOCAL_IDENTITY.workloadRoleArn, trustDomain: 'example.org' }).policy);

    const dataPlane = await startDataPlane({
      store,
      credentials: standIns.rolesAnywhere.credentials,
      trustBundle: () => [standIns.acmPca.caCertificatePem],
      roleArn: LOCAL_IDENTITY.workloadRoleArn,
      stateDir,
      services: { billing: 'billing' },
      invoke: (_name, event) => billing(event, lambdaContext('billing')),
    });
    stops.push(() => dataPlane.stop());

    // Baseline: TLS on the same machine, same kind of certificate, a fixed answer of the same size.
    const tls = await createServerTls(join(stateDir, 'baseline'), []);
    const fixed = JSON.stringify({ message: 'HelloWorld from Billing Lambda', identity: { principal: `arn:aws:sts::111122223333:assumed-role/trellis-local-workload/${'0'.repeat(32)}`, sessionName: '0'.repeat(32), type: 'AWS_IAM', x509SanUri: ORDERS, x509IssuerOu: 'trellis-local' } });
    const baseline = createServer({ key: tls.keyPem, cert: tls.certPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(fixed) });
      res.end(fixed);
    });
    await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => {
      baseline.close(() => resolve());
      baseline.closeAllConnections();
    }));
    const baselineUrl = new URL(`https://127.0.0.1:${(baseline.address() as AddressInfo).port}/charges`);

    const orders = await Workload.create({ spiffeId: ORDERS });
    const issued = await standIns.acmPca.ca.issue({
      csrPem: orders.csrPem,
      template: 'EndEntityCertificate_APIPassthrough/V1',
      validity: { Type: 'DAYS', Value: 1 },
      apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: ORDERS }] } },
    });
    orders.useSvid({ certificatePem: issued.certificatePem });
    const credentials = await orders.credentials({
      endpoint: standIns.rolesAnywhere.endpoint,
      region: 'us-east-1',
      trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
      profileArn: LOCAL_IDENTITY.profileArn,
      roleArn: LOCAL_IDENTITY.workloadRoleArn,
    });
    const billingUrl = `${dataPlane.services.billing ?? ''}/charges`;
    const mtlsTls = { ca: dataPlane.caPem, cert: issued.certificatePem, key: privateKeyPemFor(orders.keys.privateKey) };

    const base = await load(async () => ({ url: baselineUrl, headers: {} }), { ca: tls.caPem }, 200);
    const baseRps = base.requests / base.seconds;
    const sigv4 = await load(
      async () => {
        const signed = await signLatticeRequest({ url: billingUrl, region: 'us-east-1', credentials });
        return { url: signed.url, headers: signed.headers };
      },
      { ca: dataPlane.caPem },
      200,
    );
    const mtls = await load(async () => ({ url: new URL(billingUrl), headers: {} }), mtlsTls, 200);

    // Signing cost alone (it runs in the same process as the server, so it is part of the SigV4 row).
    const signT0 = performance.now();
    for (let i = 0; i < 500; i += 1) await signLatticeRequest({ url: billingUrl, region: 'us-east-1', credentials });
    const signUs = ((performance.now() - signT0) * 1000) / 500;

    // Policy evaluation alone, at the quota.
    const quota = policyAtQuota(billingArn);
    const context = (caller: string): EvaluationRequest => ({
      principal: 'arn:aws:sts::111122223333:assumed-role/trellis-local-workload/0a1b',
      action: INVOKE_ACTION,
      resource: `${billingArn}/charges`,
      context: {
        'aws:PrincipalArn': LOCAL_IDENTITY.workloadRoleArn,
        'aws:PrincipalTag/x509SAN/URI': caller,
        'aws:PrincipalTag/x509Issuer/OU': 'trellis-local',
        'vpc-lattice-svcs:RequestMethod': 'GET',
        'vpc-lattice-svcs:RequestPath': '/charges',
      },
    });
    const prepared = preparePolicy(quota.policy);
    const allowLast = context(quota.lastCaller);
    const denied = context('spiffe://example.org/service/stranger');
    if (prepared.evaluate(allowLast).decision !== 'Allow' || prepared.evaluate(denied).decision !== 'ImplicitDeny') throw new Error('policy at quota does not decide as expected');
    const evalAllowUs = timeEvaluations(() => prepared.evaluate(allowLast), 20_000);
    const evalDenyUs = timeEvaluations(() => prepared.evaluate(denied), 20_000);
    const prepareUs = timeEvaluations(() => preparePolicy(quota.policy), 300);

    const policyRow = (name: string, us: number): Record<string, string | number> => ({
      case: name,
      requests: '',
      errors: '',
      'req/s': round(1e6 / us, 0),
      'p50 ms': round(us / 1000, 4),
      'p95 ms': '',
      'throughput vs baseline': '',
    });
    return {
      title: 'Local Lattice data plane: throughput and latency vs plain TLS; auth-policy evaluation at the 10 KB quota',
      rows: [
        row('plain TLS listener, fixed answer (baseline)', base),
        row('data plane, SigV4 (Roles Anywhere credentials) + policy + Billing in-process', sigv4, baseRps),
        row('data plane, mTLS (X509-SVID) + policy + Billing in-process', mtls, baseRps),
        policyRow(`policy evaluation alone, ${quota.bytes}-byte policy (${quota.grants} grants), allowed (last caller)`, evalAllowUs),
        policyRow(`policy evaluation alone, ${quota.bytes}-byte policy, denied (no match)`, evalDenyUs),
        policyRow(`policy parse + compile (preparePolicy), ${quota.bytes} bytes, once per policy change`, prepareUs),
      ],
      notes: [
        `Concurrency ${CONCURRENCY} over keep-alive connections, ${SECONDS} s per case after a warm-up; client and server share this process (and its cores), as all three cases do.`,
        'The SigV4 case signs every request in the client (@smithy/signature-v4): ' + `${round(signUs, 1)} µs per signature here, part of that row.`,
        'mTLS verifies the client certificate chain once per connection (cached per TLS socket while the bundle and the validity hold); revocation is asked per request.',
        `Policy rows: "req/s" is evaluations per second and "p50 ms" the mean time of one; the quota is read as ${DEFAULT_MAX_POLICY_BYTES} bytes; the evaluator caches the compiled policy by its text, so a data-plane request pays only the evaluation.`,
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}
