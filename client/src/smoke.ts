/**
 * The smoke test of a stage: the reference scenario played against its real endpoints with two
 * throwaway workloads (SPIFFE IDs under spiffe://<trust domain>/smoke/<run id>/): register each with
 * a CSR made here, wait for their X.509-SVIDs, grant orders → billing, orders → rates and reviews →
 * rates, wait until both auth policies are in sync, obtain IAM Roles Anywhere sessions with the
 * SVIDs, make the four calls, check the four outcomes, and clean up (grants, then workloads)
 * whatever happened. The same code runs against the local stack (endpoints.json) and a deployed
 * stage (its CloudFormation outputs, standard AWS credentials).
 */
import { readFile } from 'node:fs/promises';
import { TrellisApi, type Grant, type WorkloadEntry } from './api-client';
import { Workload, type RolesAnywhereSettings } from './workload';

export interface SmokeTarget {
  /** Where the endpoints came from: `local stack (<file>)` or `stack trellis-<stage> (<region>)`. */
  source: string;
  api: string;
  region: string;
  /** Sign API calls with SigV4 (execute-api): a deployed stage. */
  sign: boolean;
  trustDomain: string;
  rolesAnywhere: RolesAnywhereSettings;
  /** Base URL of billing and rates (Lattice service endpoints). */
  services: { billing: string; rates: string };
  /** PEM of the CA of the services' TLS certificates, when it is not a public one (the local data plane). */
  servicesCaPem?: string;
}

export type Verdict = 'ALLOWED' | 'DENIED' | 'ERROR';

export interface SmokeCall {
  caller: 'orders' | 'reviews';
  service: 'billing' | 'rates';
  expected: Verdict;
  actual: Verdict;
  status: number;
  /** The caller identity the service reported (its x509SanUri), or the error. */
  detail: string;
}

export interface SmokeReport {
  source: string;
  runId: string;
  calls: SmokeCall[];
  /** Registration to SVID, per workload, ms. */
  timeToIdentityMs: Record<string, number>;
  /** Last grant created to both policies in sync, ms. */
  grantToPolicyMs: number | null;
  cleanup: { deletedGrants: number; deletedWorkloads: number; errors: string[] };
  passed: boolean;
  /** Set when the scenario stopped before the calls (the step and why). */
  failure?: string;
}

const GRANTS = [
  { caller: 'orders', service: 'billing' },
  { caller: 'orders', service: 'rates' },
  { caller: 'reviews', service: 'rates' },
] as const;

const EXPECTED: { caller: 'orders' | 'reviews'; service: 'billing' | 'rates'; expected: Verdict }[] = [
  { caller: 'orders', service: 'billing', expected: 'ALLOWED' },
  { caller: 'orders', service: 'rates', expected: 'ALLOWED' },
  { caller: 'reviews', service: 'billing', expected: 'DENIED' },
  { caller: 'reviews', service: 'rates', expected: 'ALLOWED' },
];

/** The local stack's endpoints.json (what `npm start` writes). */
export async function targetFromEndpointsFile(file: string, trustDomain = 'example.org'): Promise<SmokeTarget> {
  const e = JSON.parse(await readFile(file, 'utf8')) as {
    api?: string;
    region?: string;
    rolesAnywhere?: string;
    workloadIdentity?: { trustAnchorArn: string; profileArn: string; workloadRoleArn: string };
    services?: Record<string, string>;
    servicesCaFile?: string;
  };
  const { api, region, rolesAnywhere, workloadIdentity, services } = e;
  if (!api || !region || !rolesAnywhere || !workloadIdentity || !services?.billing || !services.rates) {
    throw new Error(`${file} lacks api, region, rolesAnywhere, workloadIdentity or services.billing/rates: restart the local stack with \`npm start\``);
  }
  return {
    source: `local stack (${file})`,
    api,
    region,
    sign: false,
    trustDomain,
    rolesAnywhere: { endpoint: rolesAnywhere, region, trustAnchorArn: workloadIdentity.trustAnchorArn, profileArn: workloadIdentity.profileArn, roleArn: workloadIdentity.workloadRoleArn },
    services: { billing: services.billing, rates: services.rates },
    ...(e.servicesCaFile ? { servicesCaPem: await readFile(e.servicesCaFile, 'utf8') } : {}),
  };
}

/** The target from a CloudFormation stack's outputs (serverless.yml `Outputs`). */
export function targetFromStackOutputs(stackName: string, region: string, outputs: Record<string, string>): SmokeTarget {
  const need = (key: string): string => {
    const v = outputs[key];
    if (v === undefined || v === '') throw new Error(`stack ${stackName} has no output ${key}: deploy the stage with this version of serverless.yml`);
    return v;
  };
  return {
    source: `stack ${stackName} (${region})`,
    api: need('ApiBaseUrl').replace(/\/+$/, ''),
    region,
    sign: true,
    trustDomain: need('TrustDomain'),
    rolesAnywhere: { endpoint: `https://rolesanywhere.${region}.amazonaws.com`, region, trustAnchorArn: need('TrustAnchorArn'), profileArn: need('ProfileArn'), roleArn: need('WorkloadRoleArn') },
    services: { billing: need('BillingServiceUrl'), rates: need('RatesServiceUrl') },
  };
}

/** DescribeStacks trellis-<stage> with the standard credential chain (the SDK is loaded only here). */
export async function targetFromStage(stage: string, region: string): Promise<SmokeTarget> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const stackName = `trellis-${stage}`;
  const out = await new CloudFormationClient({ region }).send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = out.Stacks?.[0];
  if (!stack) throw new Error(`no stack ${stackName} in ${region}`);
  const outputs = Object.fromEntries((stack.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue !== undefined ? [[o.OutputKey, o.OutputValue]] : [])));
  return targetFromStackOutputs(stackName, region, outputs);
}

export interface SmokeOptions {
  /** Bound on each wait (SVID, policy sync, a call reaching its expected outcome), ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
}

export async function runSmoke(target: SmokeTarget, options: SmokeOptions = {}): Promise<SmokeReport> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const log = options.log ?? (() => undefined);
  const now = options.now ?? Date.now;
  const api = new TrellisApi({ baseUrl: target.api, region: target.region, sign: target.sign });
  const runId = `${new Date(now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
  const spiffeId = (name: string): string => `spiffe://${target.trustDomain}/smoke/${runId}/${name}`;
  const report: SmokeReport = { source: target.source, runId, calls: [], timeToIdentityMs: {}, grantToPolicyMs: null, cleanup: { deletedGrants: 0, deletedWorkloads: 0, errors: [] }, passed: false };
  const registered: WorkloadEntry[] = [];
  const grants: Grant[] = [];
  let step = 'register';
  try {
    // 1. Two throwaway workloads, each with its own key and CSR, and their SVIDs.
    const workloads: Record<'orders' | 'reviews', Workload> = {
      orders: await Workload.create({ spiffeId: spiffeId('orders'), commonName: 'orders' }),
      reviews: await Workload.create({ spiffeId: spiffeId('reviews'), commonName: 'reviews' }),
    };
    for (const [name, workload] of Object.entries(workloads)) {
      const started = now();
      const entry = await api.registerWorkload({ spiffeId: workload.spiffeId, selectors: { awsPrincipalArns: [] }, csr: workload.csrPem });
      registered.push(entry);
      step = `SVID of ${name}`;
      const svid = await until(`the SVID of ${workload.spiffeId}`, timeoutMs, async () => {
        const state = await api.getSvid(entry.id);
        return state.kind === 'issued' ? state.svid : undefined;
      });
      report.timeToIdentityMs[name] = now() - started;
      workload.useSvid({ certificatePem: svid.certificatePem, ...(svid.chainPem ? { chainPems: [svid.chainPem] } : {}) });
      log(`${name}: registered ${workload.spiffeId}, SVID ${svid.serialNumber} in ${report.timeToIdentityMs[name]} ms`);
    }

    // 2. The reference grants, and both policies in sync.
    step = 'grants';
    for (const g of GRANTS) grants.push(await api.createGrant({ caller: spiffeId(g.caller), service: g.service }));
    const granted = now();
    step = 'policy sync';
    for (const service of ['billing', 'rates']) {
      await until(`the ${service} auth policy in sync`, timeoutMs, async () => ((await api.getServicePolicy(service)).state === 'in-sync' ? true : undefined));
    }
    report.grantToPolicyMs = now() - granted;
    log(`grants created; both auth policies in sync after ${report.grantToPolicyMs} ms`);

    // 3. Roles Anywhere sessions and the four calls. Lattice applies a new auth policy within
    // moments, not at once: a call is repeated until it has its expected outcome or the wait ends.
    step = 'calls';
    for (const row of EXPECTED) {
      const call = async (): Promise<SmokeCall> => {
        try {
          const res = await workloads[row.caller].call(`${target.services[row.service]}/`, target.rolesAnywhere, target.servicesCaPem === undefined ? {} : { ca: target.servicesCaPem });
          const text = Buffer.from(res.body).toString('utf8');
          const actual: Verdict = res.status === 200 ? 'ALLOWED' : res.status === 403 ? 'DENIED' : 'ERROR';
          let detail = text.slice(0, 200);
          if (res.status === 200) detail = ((JSON.parse(text) as { identity?: { x509SanUri?: string } }).identity?.x509SanUri ?? '?');
          else if (res.status === 403) detail = 'AccessDeniedException';
          return { ...row, actual, status: res.status, detail };
        } catch (error) {
          return { ...row, actual: 'ERROR', status: 0, detail: error instanceof Error ? error.message : String(error) };
        }
      };
      let result = await call();
      const deadline = now() + timeoutMs;
      while (result.actual !== row.expected && now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        result = await call();
      }
      report.calls.push(result);
      log(`${row.caller} → ${row.service}: ${result.actual} (${result.status})`);
    }
    report.passed = report.calls.every((c) => c.actual === c.expected && (c.actual !== 'ALLOWED' || c.detail === spiffeId(c.caller)));
  } catch (error) {
    report.failure = `${step}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    // 4. Clean up whatever was created: grants first (deleting a workload keeps deny grants only).
    for (const g of grants) {
      try {
        await api.deleteGrant(g.id);
        report.cleanup.deletedGrants += 1;
      } catch (error) {
        report.cleanup.errors.push(`grant ${g.id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    for (const w of registered) {
      try {
        await api.deleteWorkload(w.id);
        report.cleanup.deletedWorkloads += 1;
      } catch (error) {
        report.cleanup.errors.push(`workload ${w.id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  if (report.cleanup.errors.length > 0) report.passed = false;
  return report;
}

/** The table the smoke test prints. */
export function renderSmokeReport(report: SmokeReport): string {
  const rows = report.calls.map((c) => [`${c.caller} → ${c.service}`, c.expected, c.actual, String(c.status), c.actual === c.expected ? 'ok' : 'FAIL', c.detail]);
  const header = ['CALL', 'EXPECTED', 'ACTUAL', 'HTTP', 'CHECK', 'IDENTITY THE SERVICE SAW / ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  const lines = [`smoke test against ${report.source}, run ${report.runId}`, line(header), ...rows.map(line)];
  const tti = Object.entries(report.timeToIdentityMs).map(([k, v]) => `${k} ${v} ms`);
  if (tti.length > 0) lines.push(`time to identity: ${tti.join(', ')}`);
  if (report.grantToPolicyMs !== null) lines.push(`grants to both policies in sync: ${report.grantToPolicyMs} ms`);
  if (report.failure) lines.push(`stopped at ${report.failure}`);
  lines.push(`cleanup: ${report.cleanup.deletedGrants} grants and ${report.cleanup.deletedWorkloads} workloads deleted${report.cleanup.errors.length > 0 ? `; FAILED: ${report.cleanup.errors.join('; ')}` : ''}`);
  lines.push(report.passed ? 'PASSED: the four calls had their expected outcomes' : 'FAILED');
  return lines.join('\n');
}
