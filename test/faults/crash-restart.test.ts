/**
 * `npm start --persist` killed with SIGKILL in the middle of a burst of registrations (with CSRs)
 * and grants, then started again on the same folders. Proven: no acknowledged (2xx) registration or
 * grant is lost, and every SVID request still pending ends (issued or explicitly failed) within
 * the watchdog bound after the restart. Events accepted by the local EventBridge and queue
 * messages not yet consumed survive the kill (their journals); what no event carries any more is
 * the watchdog's and the outbox sweeper's, which the test runs every 2 s as their schedules would
 * (serverless offline runs schedules at most once a minute).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/in-process-stack';
import { createCsrPem } from '../unit/svid-test-ca';
import { params, report } from './params';

const PORT_BASE = 8400 + Math.floor(Math.random() * 10) * 30;
const API = `http://127.0.0.1:${PORT_BASE}/local`;
const dir = mkdtempSync(join(tmpdir(), 'trellis-crash-'));
let stack: { child: ChildProcess; output: () => string } | undefined;

function start(): Promise<{ child: ChildProcess; output: () => string }> {
  const args = ['--import', 'tsx', 'local/start.ts', '--no-demo', '--quiet', '--persist', join(dir, 'db'), '--state-dir', join(dir, 'state'), '--port-base', String(PORT_BASE)];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRELLIS_SVID_PENDING_BOUND_SECONDS: String(params.crashBoundSeconds), OUTBOX_GRACE_MS: '2000' },
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('[trellis] ready in')) {
        clearInterval(timer);
        resolve({ child, output: () => output });
      } else if (child.exitCode !== null || Date.now() - started > 120_000) {
        clearInterval(timer);
        reject(new Error(`stack did not start:\n${output.slice(-3000)}`));
      }
    }, 100);
  });
}

/** SIGKILL, as a crash: the stack's process group and serverless offline's own group (it runs detached). */
function crash(child: ChildProcess): void {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  const offline = ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.slice(2).join(' ').includes(`--httpPort ${PORT_BASE}`))
    .map((cols) => Number(cols[1]));
  for (const group of [child.pid ?? 0, ...offline]) {
    try {
      if (group > 0) process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(-child.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 8_000))]);
  if (child.exitCode === null) crash(child);
}

afterAll(async (context) => {
  if (stack) await stopGracefully(stack.child);
  // On failure the folders stay for a look at state/logs/functions.log.
  if (context.tasks.every((t) => t.result?.state !== 'fail')) rmSync(dir, { recursive: true, force: true });
  else console.log(`[faults] crash test folders kept in ${dir}`);
});

const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(`${API}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
};

describe('a SIGKILL in the middle of a burst', () => {
  it('loses no acknowledged registration or grant, and every pending SVID request ends within the watchdog bound', async () => {
    stack = await start();
    const csr = await createCsrPem({ subject: 'CN=crash' });
    // Warm: the first call of each function builds and loads it (a 504 on a loaded machine).
    for (const [path, body] of [
      ['/workloads', { spiffeId: 'spiffe://example.org/crash/warm', selectors: { awsPrincipalArns: [] }, csr }],
      ['/grants', { service: 'billing', caller: 'spiffe://example.org/crash/warm' }],
    ] as const) {
      for (let attempt = 0; attempt < 10 && (await post(path, body).catch(() => ({ status: 599 }))).status >= 500; attempt += 1) await new Promise((r) => setTimeout(r, 1_000));
    }
    const registered: string[] = [];
    const granted: string[] = [];
    let refused = 0;
    let next = 0;
    let killed = false;
    const burst = Array.from({ length: 10 }, async () => {
      for (let i = next++; i < params.crashBurst * 2 && !killed; i = next++) {
        try {
          if (i % 2 === 0) {
            const res = await post('/workloads', { spiffeId: `spiffe://example.org/crash/w${i}`, selectors: { awsPrincipalArns: [] }, csr });
            if (res.status === 201) registered.push(String(res.body.id));
            else refused += 1;
          } else {
            const res = await post('/grants', { service: 'rates', caller: `spiffe://example.org/crash/w${i - 1}` });
            if (res.status === 201) granted.push(String(res.body.id));
            else refused += 1;
          }
        } catch {
          refused += 1; // cut off by the kill: never acknowledged
        }
      }
    });
    // Kill once a quarter of the burst is acknowledged (its events partly delivered, partly in flight).
    while (registered.length + granted.length < params.crashBurst / 2 && next < params.crashBurst * 2) await new Promise((r) => setTimeout(r, 20));
    const sentBeforeKill = next;
    crash(stack.child);
    killed = true;
    await Promise.all(burst);
    const acknowledged = { registrations: registered.length, grants: granted.length };

    stack = await start();
    const readyAt = Date.now();
    // The schedules, every 2 s from the restart, through serverless offline's Lambda endpoint.
    const lambda = new LambdaClient({ endpoint: `http://127.0.0.1:${PORT_BASE + 2}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    let ticking = true;
    const ticks = (async () => {
      while (ticking) {
        for (const fn of ['outboxSweeper', 'svidWatchdog']) await lambda.send(new InvokeCommand({ FunctionName: `trellis-local-${fn}`, Payload: Buffer.from('{}') })).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 2_000));
      }
    })();
    // Right after the restart the replayed events keep the functions busy: a 5xx (a Lambda timeout
    // in serverless offline) is asked again; only a 404 would be a lost acknowledgement.
    const statusOf = async (path: string): Promise<number> => {
      for (let attempt = 0; ; attempt += 1) {
        const status = await fetch(`${API}${path}`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.status, () => 599);
        if (status < 500 || attempt >= 10) return status;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    for (const id of registered) expect(await statusOf(`/workloads/${id}`), `registration ${id}`).toBe(200);
    for (const id of granted) expect(await statusOf(`/grants/${id}`), `grant ${id}`).toBe(200);

    const pending = new Set(registered);
    const outcomes: Record<string, number> = {};
    const deadline = readyAt + params.crashBoundSeconds * 1000 + 60_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const res = await fetch(`${API}/workloads/${id}/svid`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
        if (res === undefined || res.status >= 500) continue;
        const code = res.status === 200 ? 'issued' : ((await res.json()) as { error: { code: string } }).error.code;
        if (code !== 'SvidPending') {
          pending.delete(id);
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        }
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    ticking = false;
    await ticks;
    lambda.destroy();
    expect([...pending], 'requests still pending').toEqual([]);
    // When each request ended, as the SVID item records it (polling a loaded stack is slower than that).
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: `http://127.0.0.1:${PORT_BASE + 11}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
    let endedAfterSeconds = 0;
    let endedAfterRestart = 0;
    for (const id of registered) {
      const item = (await db.send(new GetCommand({ TableName: 'trellis-local-svids', Key: { workloadId: id }, ConsistentRead: true }))).Item as { svid?: { issuedAt: string }; failure?: { at: string } } | undefined;
      const endedAt = Date.parse(item?.svid?.issuedAt ?? item?.failure?.at ?? '');
      expect(Number.isNaN(endedAt), `${id} has an outcome`).toBe(false);
      endedAfterSeconds = Math.max(endedAfterSeconds, (endedAt - readyAt) / 1000);
      if (endedAt > readyAt) endedAfterRestart += 1;
    }
    db.destroy();
    expect(endedAfterSeconds).toBeLessThanOrEqual(params.crashBoundSeconds);
    expect(Object.keys(outcomes).filter((c) => c !== 'issued' && c !== 'SvidIssuanceFailed')).toEqual([]);
    report('crash and restart', {
      'registrations acknowledged': acknowledged.registrations,
      'grants acknowledged': acknowledged.grants,
      'requests sent before the kill': sentBeforeKill,
      'not acknowledged (cut off by the kill)': refused,
      'SVID requests ended after the restart': endedAfterRestart,
      lost: 0,
      'SVIDs issued': outcomes.issued ?? 0,
      'SvidIssuanceFailed': outcomes.SvidIssuanceFailed ?? 0,
      'last ended s after the restart': Math.max(0, Math.round(endedAfterSeconds)),
      'bound s': params.crashBoundSeconds,
    });
  });
});
