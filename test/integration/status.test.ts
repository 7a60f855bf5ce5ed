/**
 * GET /status on the in-process stack: after a registration with a CSR (an SVID issued) and a grant
 * (a policy applied), the summary from the audit table counts them, measures time to identity and
 * grant-to-enforcement, shows the dead-letter queues and nothing stuck; administrators only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { api, eventsOf, opensslCsr, ORDERS_ROLE, register } from './svid-support';

let stack: InProcessStack;

beforeAll(async () => {
  stack = await startInProcessStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface StatusBody {
  events: Record<string, number>;
  svids: { issued: number; timeToIdentityMs: { count: number; p50: number | null; p95: number | null } };
  policies: { applied: number; grantToPolicyMs: { count: number }; sizes: { service: string; quotaPercent: number }[] };
  stuck: { pendingSvidRequests: number; deadLetters: Record<string, number>; policiesOutOfSync: unknown[] };
  healthy: boolean;
}

describe('GET /status', () => {
  it('summarises issuance and policy sync from the audit trail, with p50/p95 and nothing stuck', async () => {
    await register(stack, 'spiffe://example.org/status/orders', { csr: await opensslCsr('/CN=orders') });
    expect((await eventsOf(stack, 'SvidIssued')).length).toBeGreaterThan(0);
    const grant = await api(stack, 'grants', { method: 'POST', resource: '/grants', body: { caller: 'spiffe://example.org/status/orders', service: 'billing' } });
    expect(grant.status).toBe(201);
    expect((await eventsOf(stack, 'PolicyApplied')).length).toBeGreaterThan(0);

    const res = await api(stack, 'admin', { method: 'GET', resource: '/status', query: { hours: '1' } });
    expect(res.status).toBe(200);
    const body = res.body as StatusBody;
    expect(body.svids.issued).toBeGreaterThan(0);
    expect(body.svids.timeToIdentityMs.count).toBeGreaterThan(0);
    expect(body.svids.timeToIdentityMs.p95).toBeGreaterThanOrEqual(body.svids.timeToIdentityMs.p50 ?? 0);
    expect(body.policies.grantToPolicyMs.count).toBeGreaterThan(0);
    expect(body.policies.sizes.map((s) => s.service)).toContain('billing');
    expect(body.events.GrantChanged).toBeGreaterThan(0);
    expect(Object.keys(body.stuck.deadLetters).sort()).toEqual(['trellis-local-events-dlq', 'trellis-local-svid-requests-dlq']);
    expect(body.stuck.pendingSvidRequests).toBe(0);
    expect(body.stuck.policiesOutOfSync).toEqual([]);
    expect(body.healthy).toBe(true);
  });

  it('is for administrators only, and names the field of a bad query', async () => {
    expect((await api(stack, 'admin', { method: 'GET', resource: '/status', callerArn: ORDERS_ROLE })).status).toBe(403);
    const bad = await api(stack, 'admin', { method: 'GET', resource: '/status', query: { hours: '0' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('hours');
  });
});
