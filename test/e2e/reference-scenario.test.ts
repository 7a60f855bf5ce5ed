/**
 * `npm start` as a new user runs it: the stack boots, plays the reference scenario (README.md,
 * "Quick start"; local/demo.ts) by default, prints the four outcomes and keeps serving. Then, from this
 * process, the same scenario again (the workloads are re-enrolled with new keys) and a grant
 * revoked through the API turns ALLOWED into DENIED within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnStack, waitForOutput, type StackProcess } from '../support/stack-process';
import { REFERENCE, runReferenceScenario, type DemoEndpoints } from '../../local/demo';

const PORT_BASE = 8000 + Math.floor(Math.random() * 50) * 30;
const stateDir = mkdtempSync(join(tmpdir(), 'trellis-demo-'));
let stack: StackProcess;
let child: ChildProcess;

beforeAll(async () => {
  stack = spawnStack(['--quiet', '--port-base', String(PORT_BASE), '--state-dir', stateDir]);
  child = stack.child;
  await waitForOutput(stack, '[demo] all four outcomes match', 180_000, (output) => `the demo did not pass:\n${output.split('\n').filter((l) => !l.startsWith('{')).slice(-40).join('\n')}`);
}, 210_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe('npm start (with the demo)', () => {
  it('prints the four outcomes of the reference table and the identities Billing and Rates logged', () => {
    const row = (call: string) => stack.output().split('\n').find((l) => l.startsWith(`| ${call} `)) ?? '';
    expect(row('orders → billing')).toMatch(/\| ALLOWED \| as expected \| spiffe:\/\/example\.org\/service\/orders \(arn:aws:sts::111122223333:assumed-role\/trellis-local-workload\/[0-9a-f]+\)/);
    expect(row('orders → rates')).toMatch(/\| ALLOWED \| as expected \| spiffe:\/\/example\.org\/service\/orders /);
    expect(row('reviews → billing')).toMatch(/\| DENIED {2}\| as expected \| — \(AccessDeniedException\)/);
    expect(row('reviews → rates')).toMatch(/\| ALLOWED \| as expected \| spiffe:\/\/example\.org\/service\/reviews /);

    // Billing's and Rates' own structured log lines (from serverless offline) carry the claims.
    const lines = readFileSync(join(stateDir, 'logs', 'functions.log'), 'utf8').split('\n').filter((l) => l.startsWith('{') && l.includes('"caller identity"'));
    const logged = lines.map((l) => JSON.parse(l) as { targetService: string; identity: Record<string, string> });
    const billing = logged.filter((l) => l.targetService === 'billing');
    expect(billing).toHaveLength(1);
    expect(billing[0]?.identity).toMatchObject({ type: 'AWS_IAM', x509SanUri: REFERENCE.workloads.orders, x509SubjectCn: 'orders', x509IssuerOu: expect.any(String) });
    expect(logged.filter((l) => l.targetService === 'rates').map((l) => l.identity.x509SanUri).sort()).toEqual([REFERENCE.workloads.orders, REFERENCE.workloads.reviews]);
    // and the data plane logged the denial with its reason
    const decisions = readFileSync(join(stateDir, 'logs', 'data-plane.log'), 'utf8');
    expect(decisions).toContain('reviews');
  });

  it('turns ALLOWED into DENIED within seconds when the grant is revoked through the API', async () => {
    const raw = JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as Omit<DemoEndpoints, 'dataPlaneCaPem'> & { servicesCaFile: string };
    const endpoints: DemoEndpoints = { ...raw, dataPlaneCaPem: readFileSync(raw.servicesCaFile, 'utf8') };
    const run = await runReferenceScenario(endpoints, () => {});
    expect(run.outcomes.map((o) => o.actual)).toEqual(REFERENCE.expected.map((e) => e.expected));

    const grants = (await (await fetch(`${endpoints.api}/grants?service=billing`)).json()) as { items: { id: string; caller: string }[] };
    const grant = grants.items.find((g) => g.caller === REFERENCE.workloads.orders);
    expect(grant).toBeDefined();
    const t0 = Date.now();
    expect((await fetch(`${endpoints.api}/grants/${grant?.id}`, { method: 'DELETE' })).status).toBe(204);
    let outcome = await run.call('orders', 'billing');
    while (outcome === 'ALLOWED' && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      outcome = await run.call('orders', 'billing');
    }
    expect(outcome).toBe('DENIED');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await run.call('orders', 'rates')).toBe('ALLOWED');
  }, 60_000);
});
