/**
 * Auth-policy convergence under faults: M random grant changes (creations and deletions) over
 * several services, concurrently, while a share of PutAuthPolicy calls fail (AccessDeniedException:
 * an error the SDK does not retry itself, so each one reaches policy sync, which reports
 * PolicySyncFailed and fails its invocation for the bus to retry). The reconcile
 * schedule ticks every second, as its rate would over a longer run. Proven: no change is refused
 * with a 5xx, and afterwards every service's applied policy equals the compilation of its final
 * grant table (read back through the API).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../integration/grants-harness';
import { params, report } from './params';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

interface GrantBody {
  id: string;
  service: string;
  caller: string;
  methods?: string[];
}

describe('policy sync under PutAuthPolicy failures', () => {
  it('converges every service to the compilation of its final grant table', async () => {
    const services = ['billing', 'rates'];
    for (let i = 2; i < params.grantServices; i += 1) {
      await h.addService(`faults${i}`);
      services.push(`faults${i}`);
    }
    await h.stack.bus.waitForIdle(20_000);
    h.stack.standIns.lattice.injectFault({ operation: 'PutAuthPolicy', error: 'AccessDeniedException', rate: params.putAuthPolicyFailureRate });

    let ticking = true;
    const ticks = (async () => {
      while (ticking) {
        await new Promise((r) => setTimeout(r, 1_000));
        await h.stack.invoke('policyReconciler', {}).catch(() => undefined);
      }
    })();

    const live: GrantBody[] = [];
    const statuses: Record<number, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: params.concurrency }, async () => {
        for (let i = next++; i < params.grantChanges; i = next++) {
          const deleting = live.length > 0 && Math.random() < 0.35;
          let status: number;
          if (deleting) {
            const [victim] = live.splice(Math.floor(Math.random() * live.length), 1);
            status = (await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: victim?.id ?? '' } })).status;
          } else {
            const service = services[Math.floor(Math.random() * services.length)] ?? 'rates';
            const k = Math.floor(Math.random() * 80);
            const caller = k % 10 === 0 ? `spiffe://example.org/faults/team${k}/*` : `spiffe://example.org/faults/c${k}`;
            const res = await h.api({ method: 'POST', resource: '/grants', body: { service, caller, ...(k % 3 === 0 ? { methods: ['GET'] } : {}) } });
            status = res.status;
            if (res.status === 201) live.push(res.body as GrantBody);
          }
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    expect(Object.keys(statuses).map(Number).filter((s) => s >= 500)).toEqual([]);

    // The faults stop; the schedule's next passes repair whatever a failed put left behind.
    h.stack.standIns.lattice.clearFaults();
    await h.stack.bus.waitForIdle(60_000);
    await new Promise((r) => setTimeout(r, 1_500));
    ticking = false;
    await ticks;
    await h.stack.invoke('policyReconciler', {});
    await h.stack.bus.waitForIdle(60_000);

    let grantsAtEnd = 0;
    for (const service of services) {
      const table = ((await h.api({ method: 'GET', resource: '/grants', query: { service, limit: '100' } })).body as { items: GrantBody[]; nextToken?: string });
      expect(table.nextToken).toBeUndefined();
      grantsAtEnd += table.items.length;
      const expected = h.expectedPolicy(service, table.items.map((g) => ({ caller: g.caller, ...(g.methods ? { methods: g.methods } : {}) })));
      expect(await h.appliedPolicy(service), `policy of ${service}`).toBe(expected);
    }
    report('grant changes', {
      changes: params.grantChanges,
      services: services.length,
      concurrency: params.concurrency,
      'PutAuthPolicy failures injected': h.stack.standIns.lattice.injectedFaults(),
      statuses: JSON.stringify(statuses),
      'grants at the end': grantsAtEnd,
      'services converged': services.length,
      'PolicySyncFailed events': h.stack.bus.events().filter((e) => e['detail-type'] === 'PolicySyncFailed').length,
    });
  });
});
