/**
 * The stack as a user starts it (`npm start -- --no-demo`): serverless offline, dynalite and the
 * local EventBridge as separate servers, driven over HTTP only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { spawnStack, waitForOutput, type StackProcess } from '../support/stack-process';

const PORT_BASE = 6000 + Math.floor(Math.random() * 50) * 30;
const stateDir = mkdtempSync(join(tmpdir(), 'trellis-e2e-'));
let stack: StackProcess;
let child: ChildProcess;
let endpoints: { api: string; dynamodb: string; eventBridge: string; region: string };

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

beforeAll(async () => {
  stack = spawnStack(['--no-demo', '--quiet', '--port-base', String(PORT_BASE), '--state-dir', stateDir]);
  child = stack.child;
  await waitForOutput(stack, '[trellis] ready in', 150_000);
  endpoints = JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as typeof endpoints;
}, 180_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

describe('npm start -- --no-demo', () => {
  it('writes the endpoints once everything answers', async () => {
    expect(endpoints).toMatchObject({
      api: `http://127.0.0.1:${PORT_BASE}/local`,
      eventBridge: `http://127.0.0.1:${PORT_BASE + 10}`,
      dynamodb: `http://127.0.0.1:${PORT_BASE + 11}`,
      region: 'us-east-1',
    });
    for (const name of ['api', 'eventBridge', 'dynamodb']) expect(stack.output()).toContain((endpoints as Record<string, string>)[name]);
  });

  it('serves the API over HTTP and delivers the event to the rule target function', async () => {
    const res = await fetch(`${endpoints.api}/workloads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ spiffeId: 'spiffe://example.org/service/e2e', selectors: { awsPrincipalArns: [] } }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toContain('application/json');
    const workload = (await res.json()) as { id: string };

    const bad = await fetch(`${endpoints.api}/workloads`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(bad.status).toBe(415);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('UnsupportedMediaType');

    // The local EventBridge shows the event; the audit function (its rule's target) stores it.
    const deadline = Date.now() + 15_000;
    let eventId: string | undefined;
    let audited: Record<string, unknown> | undefined;
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamodb, region: endpoints.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    while (Date.now() < deadline && !audited) {
      const events = (await (await fetch(`${endpoints.eventBridge}/_local/events`)).json()) as { 'detail-type': string; detail: { eventId: string; workload?: { id: string } } }[];
      eventId = events.find((e) => e['detail-type'] === 'WorkloadRegistered' && e.detail.workload?.id === workload.id)?.detail.eventId;
      if (eventId) audited = (await db.send(new GetCommand({ TableName: 'trellis-local-audit', Key: { eventId } }))).Item;
      if (!audited) await new Promise((r) => setTimeout(r, 200));
    }
    expect(audited).toMatchObject({ eventId, detailType: 'WorkloadRegistered', detail: { workload: { id: workload.id } } });
    db.destroy();
  }, 30_000);

  // Bounded by the test's timeout, not by a measured latency (the machine's speed is not the behaviour).
  it('stops every process it started on SIGTERM, exiting 0 and leaving the ports free', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await exited;
    expect(code).toBe(0);
    for (const port of [PORT_BASE, PORT_BASE + 2, PORT_BASE + 10, PORT_BASE + 11]) expect(await portOpen(port)).toBe(false);
  }, 10_000);
});
