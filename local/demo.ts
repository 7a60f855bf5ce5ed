/**
 * The reference scenario (README.md, "Quick start"), played against a running stack as a new user
 * would: two workloads make their own key pairs and CSRs, get registered, wait for their SVIDs,
 * the three reference grants are created, and each workload obtains Roles Anywhere credentials
 * with its SVID and calls Billing and Rates through the Lattice data plane with SigV4.
 * Only HTTP APIs and the workload client module (@trellis/client, client/) are used.
 */
import { Pkcs10CertificateRequest, X509Certificate } from '../shared/x509';
import { Workload, type RolesAnywhereSettings } from '@trellis/client';

/** True when the certificate certifies the key the CSR was made with. */
function certifiesCsrKey(certificatePem: string, csrPem: string): boolean {
  return Buffer.from(new X509Certificate(certificatePem).publicKey.rawData).equals(Buffer.from(new Pkcs10CertificateRequest(csrPem).publicKey.rawData));
}

export interface DemoEndpoints {
  api: string;
  region: string;
  rolesAnywhere: string;
  services: Record<string, string>;
  dataPlaneCaPem: string;
  workloadIdentity: { workloadRoleArn: string; trustAnchorArn: string; profileArn: string };
}

export interface Outcome {
  caller: string;
  service: string;
  expected: 'ALLOWED' | 'DENIED';
  actual: 'ALLOWED' | 'DENIED' | 'ERROR';
  status: number;
  loggedIdentity: string;
  detail: string;
}

const TRUST_DOMAIN = 'example.org';
export const REFERENCE = {
  workloads: { orders: `spiffe://${TRUST_DOMAIN}/service/orders`, reviews: `spiffe://${TRUST_DOMAIN}/service/reviews` },
  grants: [
    { caller: `spiffe://${TRUST_DOMAIN}/service/orders`, service: 'billing' },
    { caller: `spiffe://${TRUST_DOMAIN}/service/orders`, service: 'rates' },
    { caller: `spiffe://${TRUST_DOMAIN}/service/reviews`, service: 'rates' },
  ],
  expected: [
    { caller: 'orders', service: 'billing', expected: 'ALLOWED' },
    { caller: 'orders', service: 'rates', expected: 'ALLOWED' },
    { caller: 'reviews', service: 'billing', expected: 'DENIED' },
    { caller: 'reviews', service: 'rates', expected: 'ALLOWED' },
  ],
} as const;

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

interface SvidBody { certificatePem: string; chainPem?: string; serialNumber: string; notAfter: string }

/** Registers (or re-requests an SVID for) a workload and returns it holding its SVID. */
async function enrol(base: string, name: string, spiffeId: string, log: (line: string) => void): Promise<Workload> {
  const workload = await Workload.create({ spiffeId, commonName: name });
  const created = await api(base, 'POST', '/workloads', { spiffeId, selectors: { awsPrincipalArns: [] }, csr: workload.csrPem });
  let id: string;
  if (created.status === 201) {
    id = (created.body as { id: string }).id;
  } else if (created.status === 409) {
    // Already registered (a persisted stack): submit this run's CSR.
    const list = await api(base, 'GET', '/workloads?limit=100');
    const found = (list.body as { items: { id: string; spiffeId: string }[] }).items.find((w) => w.spiffeId === spiffeId);
    if (!found) throw new Error(`${spiffeId} is registered but not listed`);
    id = found.id;
    const submitted = await api(base, 'POST', `/workloads/${id}/csr`, { csr: workload.csrPem });
    if (submitted.status !== 202) throw new Error(`CSR for ${spiffeId} refused: ${JSON.stringify(submitted.body)}`);
  } else {
    throw new Error(`registering ${spiffeId} failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  log(`registered ${name} (${spiffeId}) as ${id}; waiting for its SVID`);
  const svid = await until(`the SVID of ${name}`, 30_000, async () => {
    const res = await api(base, 'GET', `/workloads/${id}/svid`);
    if (res.status !== 200) return undefined;
    const body = res.body as SvidBody;
    // An SVID issued for an earlier key (a re-enrolled workload) is not ours: wait for ours.
    return certifiesCsrKey(body.certificatePem, workload.csrPem) ? body : undefined;
  });
  log(`  SVID serial ${svid.serialNumber}, valid until ${svid.notAfter}`);
  workload.useSvid({ certificatePem: svid.certificatePem, ...(svid.chainPem ? { chainPems: [svid.chainPem] } : {}) });
  return workload;
}

export interface ScenarioRun {
  outcomes: Outcome[];
  /** Makes one more SigV4-signed call as a reference workload (e.g. after a grant changed). */
  call(caller: keyof typeof REFERENCE.workloads, service: string): Promise<Outcome['actual']>;
}

export async function runReferenceScenario(endpoints: DemoEndpoints, log: (line: string) => void = console.log): Promise<ScenarioRun> {
  const base = endpoints.api;
  const orders = await enrol(base, 'orders', REFERENCE.workloads.orders, log);
  const reviews = await enrol(base, 'reviews', REFERENCE.workloads.reviews, log);

  for (const grant of REFERENCE.grants) {
    const res = await api(base, 'POST', '/grants', grant);
    if (res.status !== 201 && res.status !== 409) throw new Error(`grant ${JSON.stringify(grant)} failed: ${res.status} ${JSON.stringify(res.body)}`);
    log(`grant ${grant.caller} → ${grant.service}: ${res.status === 201 ? 'created' : 'already there'}`);
  }
  for (const service of ['billing', 'rates']) {
    await until(`the ${service} auth policy`, 30_000, async () => {
      const res = await api(base, 'GET', `/services/${service}/policy`);
      return res.status === 200 && policyApplied(res.body) ? true : undefined;
    });
    log(`auth policy of ${service} applied`);
  }

  const settings: RolesAnywhereSettings = {
    endpoint: endpoints.rolesAnywhere,
    region: endpoints.region,
    trustAnchorArn: endpoints.workloadIdentity.trustAnchorArn,
    profileArn: endpoints.workloadIdentity.profileArn,
    roleArn: endpoints.workloadIdentity.workloadRoleArn,
  };
  const callers = { orders, reviews };
  const callOnce = async (caller: keyof typeof callers, service: string) => {
    const url = endpoints.services[service];
    if (!url) throw new Error(`no data-plane endpoint for ${service}`);
    return callers[caller].call(`${url}/`, settings, { ca: endpoints.dataPlaneCaPem });
  };
  const outcomes: Outcome[] = [];
  for (const row of REFERENCE.expected) {
    try {
      const res = await callOnce(row.caller, row.service);
      const text = Buffer.from(res.body).toString('utf8');
      const identity = res.status === 200 ? ((JSON.parse(text) as { identity?: { x509SanUri?: string; principal?: string } }).identity ?? {}) : {};
      outcomes.push({
        caller: row.caller,
        service: row.service,
        expected: row.expected,
        actual: res.status === 200 ? 'ALLOWED' : res.status === 403 ? 'DENIED' : 'ERROR',
        status: res.status,
        loggedIdentity: identity.x509SanUri ? `${identity.x509SanUri} (${identity.principal ?? '?'})` : res.status === 403 ? '— (AccessDeniedException)' : '—',
        detail: res.status === 200 ? '' : text.slice(0, 200),
      });
    } catch (error) {
      outcomes.push({ caller: row.caller, service: row.service, expected: row.expected, actual: 'ERROR', status: 0, loggedIdentity: '—', detail: error instanceof Error ? error.message : String(error) });
    }
  }
  return {
    outcomes,
    call: async (caller, service) => {
      const res = await callOnce(caller, service);
      return res.status === 200 ? 'ALLOWED' : res.status === 403 ? 'DENIED' : 'ERROR';
    },
  };
}

/** True when GET /services/{name}/policy reports the compilation of the current grants as applied. */
export function policyApplied(body: unknown): boolean {
  return (body as { state?: string }).state === 'in-sync';
}

export function renderOutcomes(outcomes: Outcome[]): string {
  const rows = outcomes.map((o) => [`${o.caller} → ${o.service}`, o.actual, o.expected === o.actual ? 'as expected' : `EXPECTED ${o.expected}`, o.loggedIdentity]);
  const header = ['call', 'outcome', 'check', 'identity Billing/Rates logged'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
