/**
 * Dead letters are not a graveyard: a delivery that fails all its attempts lands in the events DLQ
 * (the local SQS, as the rule's DeadLetterConfig says), GET /admin/dead-letters shows it with why,
 * POST /admin/dead-letters/redrive puts its event back on the bus (same eventId) and deletes it.
 * Administrators only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { api, ORDERS_ROLE, register } from './svid-support';

let stack: InProcessStack;
let broken = true;
const cleanups: unknown[] = [];
const DLQ = 'trellis-local-events-dlq';

beforeAll(async () => {
  stack = await startInProcessStack({
    handlers: {
      // The WorkloadDeleted target fails until the test "fixes" it.
      grantsCleanup: async (event) => {
        if (broken) throw new Error('grants table unavailable');
        cleanups.push(event);
        return {};
      },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the dead-letter queues', () => {
  it('show a failed delivery with why, and re-drive it once the target works again', async () => {
    const workload = await register(stack, 'spiffe://example.org/dlq/deleted');
    expect((await api(stack, 'workloads', { method: 'DELETE', resource: '/workloads/{id}', path: { id: workload.id } })).status).toBe(204);
    await stack.bus.waitForIdle(10_000);
    expect(stack.bus.deadLetters().map((d) => d.functionName)).toContain('trellis-local-grantsCleanup');

    const listed = await api(stack, 'admin', { method: 'GET', resource: '/admin/dead-letters', query: { queue: DLQ } });
    expect(listed.status).toBe(200);
    const items = (listed.body as { items: { event?: { detailType: string; detail: { workloadId?: string } }; failure?: { errorMessage?: string } }[] }).items;
    const mine = items.filter((i) => i.event?.detail.workloadId === workload.id);
    expect(mine).toEqual([expect.objectContaining({ event: expect.objectContaining({ detailType: 'WorkloadDeleted' }), failure: expect.objectContaining({ errorMessage: expect.stringContaining('grants table unavailable') }) })]);
    // listing does not take them
    expect(stack.sqs.messages(DLQ).length).toBeGreaterThan(0);

    broken = false;
    const redriven = await api(stack, 'admin', { method: 'POST', resource: '/admin/dead-letters/redrive', body: { queue: DLQ } });
    expect(redriven.status).toBe(200);
    expect((redriven.body as { redriven: { detailType: string }[] }).redriven.map((r) => r.detailType)).toContain('WorkloadDeleted');
    await stack.bus.waitForIdle(10_000);
    expect(stack.sqs.messages(DLQ)).toEqual([]);
    expect(cleanups.some((e) => (e as { detail: { workloadId?: string } }).detail.workloadId === workload.id)).toBe(true);
  });

  it('are for administrators only (403), and refuse an unknown queue (400)', async () => {
    expect((await api(stack, 'admin', { method: 'GET', resource: '/admin/dead-letters', callerArn: ORDERS_ROLE })).status).toBe(403);
    expect((await api(stack, 'admin', { method: 'POST', resource: '/admin/dead-letters/redrive', callerArn: ORDERS_ROLE, body: {} })).status).toBe(403);
    const bad = await api(stack, 'admin', { method: 'GET', resource: '/admin/dead-letters', query: { queue: 'someone-elses-queue' } });
    expect(bad.status).toBe(400);
  });
});
