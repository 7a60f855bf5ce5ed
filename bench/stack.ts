/**
 * Through `npm start`'s stack: the local stack started as a user starts it (local/start.ts in a child
 * process, its own port base), driven over HTTP only, each figure beside a same-run baseline:
 *   - what a user waits through `npm start` (each component's progress line, then ready);
 *   - registration (POST /workloads) p50/p95 and throughput vs raw conditional PutItems to the same
 *     dynalite and table; GET /workloads/{id} vs a raw GetItem;
 *   - time to identity: POST /workloads with a CSR → the SVID readable by GET …/svid, concurrency 1 and
 *     20, vs the raw store write plus IssueCertificate/GetCertificate on the local ACM PCA;
 *   - grant change → the data plane's decision flips (POST /grants → an mTLS call to Rates with the
 *     SVID allowed; DELETE → denied again), vs one data-plane request;
 *   - growth: registration p50 as the workloads table holds 100 → 10,000 → 100,000 items;
 *   - per function: bundle bytes (what the stack built) and the init time of a fresh Node process
 *     importing it.
 * Every figure is the median of several rounds (the rows say how many); `--quick` runs fewer.
 */
import { ACMPCAClient, GetCertificateCommand, IssueCertificateCommand } from '@aws-sdk/client-acm-pca';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/support/in-process-stack';
import { spawnStack, waitForOutput, type StackProcess } from '../test/support/stack-process';
import { createCsrPem, keyPair } from '../test/unit/svid-test-ca';
import { functionEnvironment, functionKeys, loadServerlessConfig } from '../local/serverless-config';
import { percentile, round, type BenchSection } from './types';

/** `npm run bench -- --quick` runs this section, shorter. */
export const supportsQuick = true;

const TARGETS = { apiRatio: 5, identityMs: 300, flipMs: 300, bundleBytes: 500 * 1024, initMs: 150 };

interface Endpoints {
  api: string;
  eventBridge: string;
  dynamodb: string;
  acmPca: string;
  region: string;
  services: { billing: string; rates: string };
  servicesCaFile: string;
}

const median = (values: number[]): number => percentile(values, 50);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `total` jobs with `concurrency` workers; each job's latency and the wall time. */
async function pool(concurrency: number, total: number, job: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await job(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

interface Round {
  p50: number;
  p95: number;
  perSecond: number;
}
const roundOf = (m: { latencies: number[]; seconds: number }): Round => ({ p50: percentile(m.latencies, 50), p95: percentile(m.latencies, 95), perSecond: m.latencies.length / m.seconds });
const medianOf = (rounds: Round[]): Round => ({ p50: median(rounds.map((r) => r.p50)), p95: median(rounds.map((r) => r.p95)), perSecond: median(rounds.map((r) => r.perSecond)) });

let unique = 0;
const nextId = (): string => `${process.pid}-${Date.now().toString(36)}-${(unique++).toString(36)}`;

/** 5xx answers (serverless offline's 504: a function past its 10 s timeout, e.g. a cold start on an overloaded machine), asked again and counted. */
let retried5xx = 0;

async function api(endpoints: Endpoints, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(`${endpoints.api}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const parsed = { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    // A registration asked again after a 504 may have been stored the first time: its 409 names the entry.
    const stored = attempt > 1 && res.status === 409 ? /entry (wl-[0-9a-f]+)/.exec(String((parsed.body.error as { message?: string } | undefined)?.message)) : null;
    if (stored) return { status: 201, body: { id: stored[1] } };
    if (res.status < 500 || attempt >= 3) return parsed;
    retried5xx += 1;
  }
}

/**
 * Bursts of registrations (with a CSR: the SVID path too) at 1, 5, 10 then `concurrency` at once, each
 * until none answers 5xx: a few new workers at a time, so cold starts on a busy machine stay inside
 * the functions' 10 s timeout (20 at once did not, under a load average of 20).
 */
async function warm(endpoints: Endpoints, concurrency: number): Promise<void> {
  const csr = await createCsrPem({ subject: 'CN=bench' });
  for (const width of [1, 5, 10, concurrency]) {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      // The registration, then its SVID read: time to identity polls GET …/svid this many at once.
      const statuses = await Promise.all(
        Array.from({ length: width }, async () => {
          const res = await api(endpoints, 'POST', '/workloads', { spiffeId: `spiffe://example.org/bench/warm-${nextId()}`, selectors: { awsPrincipalArns: [] }, csr }).catch(() => ({ status: 599, body: {} as Record<string, unknown> }));
          if (res.status >= 500) return res.status;
          return (await api(endpoints, 'GET', `/workloads/${String(res.body.id)}/svid`).catch(() => ({ status: 599 }))).status;
        }),
      );
      if (statuses.every((s) => s < 500)) break;
    }
  }
}

async function register(endpoints: Endpoints, csr?: string): Promise<string> {
  const spiffeId = `spiffe://example.org/bench/${nextId()}`;
  const res = await api(endpoints, 'POST', '/workloads', { spiffeId, selectors: { awsPrincipalArns: [] }, ...(csr ? { csr } : {}) });
  if (res.status !== 201) throw new Error(`POST /workloads answered ${res.status}: ${JSON.stringify(res.body)}`);
  return String(res.body.id);
}

/**
 * Polls GET /workloads/{id}/svid until the SVID is there (every 5 ms: the poll adds at most that).
 * The bound is long: an issuer invocation past its timeout on an overloaded machine is delivered
 * again after the queue's visibility timeout, as in AWS, and that sample then shows it.
 */
async function svidOf(endpoints: Endpoints, id: string, timeoutMs = 180_000): Promise<{ certificatePem: string; chainPem?: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await api(endpoints, 'GET', `/workloads/${id}/svid`);
    if (res.status === 200) return res.body as unknown as { certificatePem: string; chainPem?: string };
    const code = (res.body.error as { code?: string } | undefined)?.code;
    if (code !== 'SvidPending' && res.status < 500) throw new Error(`GET /workloads/${id}/svid: ${res.status} ${JSON.stringify(res.body)}`);
    await sleep(5);
  }
  throw new Error(`no SVID for ${id} within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------------------------------------

function startupRows(output: string): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const line of output.split('\n')) {
    const step = /^\[trellis\] (.+) \((\d+\.\d) s\)$/.exec(line);
    if (step) rows.push({ family: 'npm start', measure: step[1] ?? '', value: Number(step[2]), unit: 's', baseline: '', ratio: '', target: '' });
    const ready = /^\[trellis\] ready in (\d+\.\d) s/.exec(line);
    if (ready) rows.push({ family: 'npm start', measure: 'ready (all of the above; includes the esbuild of every function)', value: Number(ready[1]), unit: 's', baseline: '', ratio: '', target: '' });
  }
  return rows;
}

async function storeVsApi(endpoints: Endpoints, db: DynamoDBDocumentClient, rounds: number, perRound: number): Promise<Record<string, string | number>[]> {
  const table = 'trellis-local-workloads';
  const rawPut = async (): Promise<void> => {
    await db.send(new PutCommand({ TableName: table, Item: { id: `bench-raw-${nextId()}`, spiffeId: 'spiffe://example.org/bench/raw', revision: 1 }, ConditionExpression: 'attribute_not_exists(id)' }));
  };
  // What a registration writes, as raw calls in the same order: the item with its outbox entry, the
  // event, the outbox cleared (shared/workloads/service.ts and shared/outbox/outbox.ts).
  const bus = new EventBridgeClient({ endpoint: endpoints.eventBridge, region: endpoints.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const rawSequence = async (): Promise<void> => {
    const id = `bench-raw-${nextId()}`;
    await db.send(new PutCommand({ TableName: table, Item: { id, spiffeId: 'spiffe://example.org/bench/raw', revision: 1, pendingEvents: [{ eventId: id }], outboxShard: '0', outboxSince: new Date().toISOString() }, ConditionExpression: 'attribute_not_exists(id)' }));
    await bus.send(new PutEventsCommand({ Entries: [{ EventBusName: 'trellis-local', Source: 'bench.raw', DetailType: 'BenchRaw', Detail: JSON.stringify({ id }) }] }));
    await db.send(new UpdateCommand({ TableName: table, Key: { id }, UpdateExpression: 'REMOVE pendingEvents, outboxShard, outboxSince', ConditionExpression: 'revision = :rev', ExpressionAttributeValues: { ':rev': 1 } }));
  };
  const seq1: Round[] = [];
  const ids: string[] = [];
  const apiPost = async (): Promise<void> => void ids.push(await register(endpoints));
  const reg1: Round[] = [];
  const put1: Round[] = [];
  const reg10: Round[] = [];
  const put10: Round[] = [];
  const get: Round[] = [];
  const rawGet: Round[] = [];
  for (let r = 0; r < rounds; r += 1) {
    reg1.push(roundOf(await pool(1, perRound, apiPost)));
    put1.push(roundOf(await pool(1, perRound, rawPut)));
    seq1.push(roundOf(await pool(1, perRound, rawSequence)));
    reg10.push(roundOf(await pool(10, perRound * 2, apiPost)));
    put10.push(roundOf(await pool(10, perRound * 2, rawPut)));
    get.push(roundOf(await pool(1, perRound, async (i) => void (await api(endpoints, 'GET', `/workloads/${ids[i % ids.length]}`)))));
    rawGet.push(roundOf(await pool(1, perRound, async (i) => void (await db.send(new GetCommand({ TableName: table, Key: { id: ids[i % ids.length] } }))))));
  }
  const [a, b, c, d, g, h, q] = [reg1, put1, reg10, put10, get, rawGet, seq1].map(medianOf) as [Round, Round, Round, Round, Round, Round, Round];
  bus.destroy();
  const note = `median of ${rounds} rounds`;
  return [
    { family: 'registration', measure: `POST /workloads p50, concurrency 1 (${note} of ${perRound})`, value: round(a.p50, 1), unit: 'ms', baseline: round(b.p50, 1), ratio: round(a.p50 / b.p50, 1), target: `≤ ${TARGETS.apiRatio}×` },
    { family: 'registration', measure: 'POST /workloads p95, concurrency 1', value: round(a.p95, 1), unit: 'ms', baseline: round(b.p95, 1), ratio: round(a.p95 / b.p95, 1), target: '' },
    { family: 'registration', measure: 'POST /workloads p50 vs its three writes made raw in sequence (conditional PutItem + PutEvents + UpdateItem: the outbox pattern)', value: round(a.p50, 1), unit: 'ms', baseline: round(q.p50, 1), ratio: round(a.p50 / q.p50, 1), target: '' },
    { family: 'registration', measure: `POST /workloads throughput, concurrency 10 (${note} of ${perRound * 2})`, value: round(c.perSecond, 0), unit: '/s', baseline: round(d.perSecond, 0), ratio: round(c.perSecond / d.perSecond, 2), target: '' },
    { family: 'registration', measure: 'POST /workloads p50 / p95, concurrency 10', value: `${round(c.p50, 1)} / ${round(c.p95, 1)}`, unit: 'ms', baseline: `${round(d.p50, 1)} / ${round(d.p95, 1)}`, ratio: round(c.p50 / d.p50, 1), target: '' },
    { family: 'read', measure: `GET /workloads/{id} p50, concurrency 1 (${note} of ${perRound})`, value: round(g.p50, 1), unit: 'ms', baseline: round(h.p50, 1), ratio: round(g.p50 / h.p50, 1), target: `≤ ${TARGETS.apiRatio}×` },
    { family: 'read', measure: 'GET /workloads/{id} p95, concurrency 1', value: round(g.p95, 1), unit: 'ms', baseline: round(h.p95, 1), ratio: round(g.p95 / h.p95, 1), target: '' },
  ];
}

async function timeToIdentity(endpoints: Endpoints, db: DynamoDBDocumentClient, rounds: number, quick: boolean): Promise<{ rows: Record<string, string | number>[]; workload: { spiffeId: string; certificatePem: string; chainPem?: string } }> {
  const csr = await createCsrPem({ subject: 'CN=bench' });
  // Baseline: the raw operations the path is made of, on the same stand-ins: a conditional PutItem,
  // IssueCertificate and the GetCertificate that reads it (ACM PCA's API shape).
  const { issuanceWindow, svidApiPassthrough } = await import('../shared/svid/issue-parameters');
  const { svidTemplateArn } = await import('../shared/svid/pca-client');
  const pca = new ACMPCAClient({ endpoint: endpoints.acmPca, region: endpoints.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const raw = async (): Promise<void> => {
    await db.send(new PutCommand({ TableName: 'trellis-local-workloads', Item: { id: `bench-raw-${nextId()}`, revision: 1 }, ConditionExpression: 'attribute_not_exists(id)' }));
    const { notBefore, notAfter } = issuanceWindow(new Date(), 3600);
    const issued = await pca.send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: localCaArn,
        Csr: Buffer.from(csr),
        SigningAlgorithm: 'SHA256WITHECDSA',
        TemplateArn: svidTemplateArn(),
        Validity: { Type: 'ABSOLUTE', Value: Math.floor(notAfter.getTime() / 1000) },
        ValidityNotBefore: { Type: 'ABSOLUTE', Value: Math.floor(notBefore.getTime() / 1000) },
        ApiPassthrough: svidApiPassthrough(`spiffe://example.org/bench/raw-${nextId()}`, []),
      }),
    );
    for (let attempt = 0; ; attempt += 1) {
      try {
        await pca.send(new GetCertificateCommand({ CertificateAuthorityArn: localCaArn, CertificateArn: issued.CertificateArn }));
        return;
      } catch (error) {
        if ((error as { name?: string }).name !== 'RequestInProgressException' || attempt > 50) throw error;
        await sleep(5);
      }
    }
  };
  let last: { spiffeId: string; certificatePem: string; chainPem?: string } | undefined;
  const identity = async (): Promise<void> => {
    const spiffeId = `spiffe://example.org/bench/${nextId()}`;
    const res = await api(endpoints, 'POST', '/workloads', { spiffeId, selectors: { awsPrincipalArns: [] }, csr });
    if (res.status !== 201) throw new Error(`POST /workloads answered ${res.status}: ${JSON.stringify(res.body)}`);
    last = { spiffeId, ...(await svidOf(endpoints, String(res.body.id))) };
  };
  await pool(1, 3, identity); // warm: the first SVID loads the issuer
  await pool(1, 3, raw);
  const rows: Record<string, string | number>[] = [];
  for (const [concurrency, perRound, roundsHere] of [
    [1, quick ? 5 : 15, rounds],
    [20, quick ? 20 : 40, quick ? 1 : rounds],
  ] as const) {
    const id: Round[] = [];
    const base: Round[] = [];
    for (let r = 0; r < roundsHere; r += 1) {
      id.push(roundOf(await pool(concurrency, perRound, identity)));
      base.push(roundOf(await pool(concurrency, perRound, raw)));
    }
    const [m, b] = [medianOf(id), medianOf(base)];
    rows.push(
      { family: 'time to identity', measure: `POST /workloads with a CSR → SVID readable, p50, concurrency ${concurrency} (median of ${roundsHere} rounds of ${perRound})`, value: round(m.p50, 0), unit: 'ms', baseline: round(b.p50, 1), ratio: round(m.p50 / b.p50, 1), target: `< ${TARGETS.identityMs} ms` },
      { family: 'time to identity', measure: `… p95, concurrency ${concurrency}; SVIDs/s`, value: `${round(m.p95, 0)}; ${round(m.perSecond, 1)}/s`, unit: 'ms', baseline: `${round(b.p95, 1)}; ${round(b.perSecond, 1)}/s`, ratio: round(m.p95 / b.p95, 1), target: '' },
    );
  }
  pca.destroy();
  if (last === undefined) throw new Error('no SVID was issued');
  return { rows, workload: last };
}

/** One mTLS call to a service through the local data plane with the workload's SVID: its status. */
function callWithSvid(url: string, cert: string, key: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/bench`, { method: 'GET', cert, key, ca, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function decisionFlip(endpoints: Endpoints, workload: { spiffeId: string; certificatePem: string; chainPem?: string }, rounds: number): Promise<Record<string, string | number>[]> {
  const keys = await keyPair('P-256', 2); // the key createCsrPem signs with
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`;
  const cert = `${workload.certificatePem.trim()}\n${workload.chainPem?.trim() ?? ''}\n`;
  const ca = readFileSync(endpoints.servicesCaFile, 'utf8');
  const rates = endpoints.services.rates;
  const first = await callWithSvid(rates, cert, key, ca);
  if (first !== 403) throw new Error(`before any grant the call to rates answered ${first}, not 403`);
  const waitFor = async (status: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while ((await callWithSvid(rates, cert, key, ca)) !== status) {
      if (Date.now() > deadline) throw new Error(`rates never answered ${status}`);
    }
  };
  const allow: number[] = [];
  const deny: number[] = [];
  const single: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    let t0 = performance.now();
    const granted = await api(endpoints, 'POST', '/grants', { service: 'rates', caller: workload.spiffeId });
    if (granted.status !== 201) throw new Error(`POST /grants answered ${granted.status}: ${JSON.stringify(granted.body)}`);
    await waitFor(200);
    allow.push(performance.now() - t0);
    t0 = performance.now();
    const removed = await api(endpoints, 'DELETE', `/grants/${String(granted.body.id)}`);
    if (removed.status >= 300) throw new Error(`DELETE /grants answered ${removed.status}: ${JSON.stringify(removed.body)}`);
    await waitFor(403);
    deny.push(performance.now() - t0);
    const s0 = performance.now();
    await callWithSvid(rates, cert, key, ca);
    single.push(performance.now() - s0);
  }
  const base = median(single);
  return [
    { family: 'grant change → decision', measure: `POST /grants → the data plane allows, p50 (${rounds} changes)`, value: round(median(allow), 0), unit: 'ms', baseline: round(base, 1), ratio: round(median(allow) / base, 1), target: `< ${TARGETS.flipMs} ms` },
    { family: 'grant change → decision', measure: 'POST /grants → allows, p95', value: round(percentile(allow, 95), 0), unit: 'ms', baseline: '', ratio: '', target: '' },
    { family: 'grant change → decision', measure: `DELETE /grants/{id} → the data plane denies, p50 (${rounds} changes)`, value: round(median(deny), 0), unit: 'ms', baseline: round(base, 1), ratio: round(median(deny) / base, 1), target: `< ${TARGETS.flipMs} ms` },
    { family: 'grant change → decision', measure: 'DELETE /grants/{id} → denies, p95', value: round(percentile(deny, 95), 0), unit: 'ms', baseline: '', ratio: '', target: '' },
  ];
}

async function growth(endpoints: Endpoints, db: DynamoDBDocumentClient, sizes: number[], perRound: number, rounds: number): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  let seeded = 0;
  const padding = 'x'.repeat(300); // about the size of a registered workload's item
  for (const size of sizes) {
    // Seeded straight into the table (BatchWriteItem, 8 batches in flight): what the API then meets.
    const missing = Math.max(0, size - seeded);
    const t0 = performance.now();
    await pool(8, Math.ceil(missing / 25), async (batch) => {
      const items = Array.from({ length: Math.min(25, missing - batch * 25) }, (_, i) => ({ PutRequest: { Item: { id: `bench-seed-${seeded + batch * 25 + i}`, spiffeId: `spiffe://example.org/seed/${seeded + batch * 25 + i}`, revision: 1, padding } } }));
      let request: Record<string, unknown[]> | undefined = { 'trellis-local-workloads': items };
      while (request && Object.keys(request).length > 0) {
        const out = await db.send(new BatchWriteCommand({ RequestItems: request as never }));
        request = out.UnprocessedItems as Record<string, unknown[]> | undefined;
      }
    });
    seeded = Math.max(seeded, size);
    const seedSeconds = (performance.now() - t0) / 1000;
    const reg: Round[] = [];
    for (let r = 0; r < rounds; r += 1) reg.push(roundOf(await pool(1, perRound, async () => void (await register(endpoints)))));
    const m = medianOf(reg);
    rows.push({ family: 'growth', measure: `POST /workloads p50 with ${size.toLocaleString('en-US')} items in the table (seeded in ${round(seedSeconds, 1)} s)`, value: round(m.p50, 1), unit: 'ms', baseline: '', ratio: '', target: '' });
  }
  const first = rows[0]?.value as number;
  for (const row of rows) row.ratio = round((row.value as number) / first, 2);
  if (rows[0]) rows[0].baseline = 'first size';
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Bundles: what the stack built, imported by fresh Node processes

function bundleRows(apiPort: number, quick: boolean): Record<string, string | number>[] {
  const built = join(ROOT, '.esbuild', `stack-${apiPort}`, '.build', 'functions');
  if (!existsSync(built)) throw new Error(`no bundles in ${built}`);
  // What local/stand-ins.ts exports to the stack's functions; the values only need the right shape here.
  process.env.TRELLIS_LOCAL_LATTICE_SERVICES ??= 'billing=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-00000000000000001,rates=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-00000000000000002';
  process.env.TRELLIS_LOCAL_CA_ARN ??= localCaArn;
  const config = loadServerlessConfig(join(ROOT, 'serverless.yml'), 'local');
  const rows: Record<string, string | number>[] = [];
  const runs = quick ? 1 : 5;
  for (const key of functionKeys(config)) {
    const handler = ((config.raw.functions as Record<string, { handler: string }>)[key]?.handler ?? '').replace(/\.[^.]+$/, '');
    const file = join(ROOT, '.esbuild', `stack-${apiPort}`, '.build', `${handler}.mjs`);
    if (!existsSync(file)) continue;
    // As Lambda runs it: the function's environment, NODE_OPTIONS (--enable-source-maps) included.
    const env = { PATH: process.env.PATH ?? '', ...functionEnvironment(config, key), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
    const withoutMaps = { ...env, NODE_OPTIONS: '' };
    const script = join(stateDir, 'cold-init.mjs');
    writeFileSync(script, 'const t = performance.now(); await import(process.argv[2]); process.stdout.write(String(performance.now() - t));\n');
    const times: number[] = [];
    const timesWithoutMaps: number[] = [];
    let error = '';
    for (let i = 0; i < runs && error === ''; i += 1) {
      for (const [into, environment] of [
        [times, env],
        [timesWithoutMaps, withoutMaps],
      ] as const) {
        try {
          into.push(Number(execFileSync(process.execPath, [script, pathToFileURL(file).href], { env: environment, encoding: 'utf8', timeout: 20_000 })));
        } catch (e) {
          error = String((e as { stderr?: string }).stderr ?? e).split('\n').find((l) => l.includes('Error')) ?? 'failed';
          break;
        }
      }
    }
    const bytes = statSync(file).size;
    const map = existsSync(`${file}.map`) ? statSync(`${file}.map`).size : 0;
    rows.push({
      family: 'bundles',
      measure: `${key}: bundle bytes; cold init ms with --enable-source-maps (median of ${runs} fresh processes)${error ? ` (import failed: ${error.slice(0, 120)})` : ''}`,
      value: `${bytes.toLocaleString('en-US')}; ${times.length ? round(median(times), 0) : 'n/a'}`,
      unit: 'bytes; ms',
      baseline: `map ${map.toLocaleString('en-US')} bytes; init ${timesWithoutMaps.length ? round(median(timesWithoutMaps), 0) : 'n/a'} ms without the flag`,
      ratio: '',
      target: `${bytes <= TARGETS.bundleBytes ? 'within' : 'OVER'} 500 KB; ${times.length && median(times) < TARGETS.initMs ? 'within' : 'OVER'} 150 ms`,
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

let stateDir = '';
let localCaArn = '';

export async function run(quick = false): Promise<BenchSection> {
  // Away from the test files' port bases (6000-7500, 8400-8700).
  const portBase = 10_000 + Math.floor(Math.random() * 60) * 30;
  stateDir = mkdtempSync(join(tmpdir(), 'trellis-bench-stack-'));
  let stack: StackProcess | undefined;
  let succeeded = false;
  try {
    stack = spawnStack(['--no-demo', '--port-base', String(portBase), '--state-dir', stateDir]);
    await waitForOutput(stack, '[trellis] ready in', 240_000);
    const endpoints = JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as Endpoints;
    localCaArn = (JSON.parse(readFileSync(join(stateDir, 'acm-pca', 'ca.json'), 'utf8')) as { caArn: string }).caArn;
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamodb, region: endpoints.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
    const warmStarted = performance.now();
    // Warm, at the concurrency measured: serverless offline starts one worker per concurrent call, and
    // each worker's first call loads the bundle (Lambda's cold start; the bundle rows measure it).
    await warm(endpoints, 20);
    const rounds = quick ? 2 : 5;
    const rows = [...startupRows(stack.output())];
    let t0 = warmStarted;
    const step = (what: string): void => {
      console.log(`  ${what}: ${round((performance.now() - t0) / 1000, 1)} s`);
      t0 = performance.now();
    };
    step('warm-up');
    retried5xx = 0;
    rows.push(...(await storeVsApi(endpoints, db, rounds, quick ? 10 : 50)));
    step('API vs raw store');
    const identity = await timeToIdentity(endpoints, db, rounds, quick);
    rows.push(...identity.rows);
    step('time to identity');
    rows.push(...(await decisionFlip(endpoints, identity.workload, quick ? 3 : 10)));
    step('grant change → decision');
    rows.push(...(await growth(endpoints, db, quick ? [100, 1_000] : [100, 10_000, 100_000], quick ? 10 : 20, quick ? 1 : 3)));
    step('growth');
    rows.push(...bundleRows(portBase, quick));
    step('bundles');
    db.destroy();
    succeeded = true;
    const load = (await import('node:os')).loadavg()[0] ?? 0;
    return {
      title: 'Through npm start: start-up, API vs raw store, time to identity, grant change → decision, growth, bundles',
      rows,
      notes: [
        `The stack is \`npm start -- --no-demo\` (local/start.ts) in a child process on port base ${portBase}; every call goes over HTTP to serverless offline (warm functions), dynalite, the local ACM PCA and the local data plane, on the same 2 cores as this process.`,
        'Baselines, same run, same stand-ins: registration vs a conditional PutItem (attribute_not_exists) to the workloads table; GET vs a GetItem of the same items; time to identity vs PutItem + IssueCertificate + GetCertificate (polled every 5 ms) on the local ACM PCA; grant change vs one mTLS request through the data plane (the floor of each poll).',
        'Time to identity polls GET …/svid every 5 ms; the SVID path is API → outbox → EventBridge → SQS → issuer (rate-limited to 20 IssueCertificate calls/s on every stage, so concurrency 20 queues by design).',
        'Growth rows: the ratio is to the first size; seeded items carry about 300 bytes each (dynalite in memory).',
        'Bundles: the files serverless-esbuild built for this stack (custom.esbuild of serverless.yml); cold init = await import() of the bundle in a fresh Node process with the function\'s environment (NODE_OPTIONS=--enable-source-maps as on Lambda; the baseline column without it), Node\'s own start-up excluded.',
        `Calls asked again after a 5xx (serverless offline's 504 past the 10 s function timeout, each adding about 10 s to its sample): ${retried5xx} in this run; warm-up excluded.`,
        `1-minute load average at the end: ${round(load, 1)} (above ${(await import('node:os')).cpus().length} means other processes competed for the CPU).`,
      ],
    };
  } finally {
    if (stack?.child.pid !== undefined && stack.child.exitCode === null) {
      const exited = new Promise<void>((r) => stack?.child.once('exit', () => r()));
      stack.child.kill('SIGTERM');
      await Promise.race([exited, sleep(8_000)]);
      if (stack.child.exitCode === null) stack.child.kill('SIGKILL');
    }
    // Kept when the section failed: its logs/ say why.
    if (succeeded) rmSync(stateDir, { recursive: true, force: true });
    else console.error(`stack bench: state and logs kept in ${stateDir}`);
  }
}
