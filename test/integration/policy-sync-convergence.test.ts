import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingEvent } from '../../shared/events/catalog';
import { grantIdFor, grantKind, type Grant } from '../../shared/grants/model';
import type { AuthPolicies } from '../../shared/policy-sync/auth-policies';
import type { PolicyDeps } from '../../shared/policy-sync/deps';
import { startHarness, type Harness } from './grants-harness';

let h: Harness;
// Loaded after the stack has set the functions' environment (the logger reads its level at import).
let policyDeps: typeof import('../../shared/policy-sync/deps').policyDeps;
let convergeService: typeof import('../../shared/policy-sync/converge').convergeService;
beforeAll(async () => {
  h = await startHarness();
  ({ policyDeps } = await import('../../shared/policy-sync/deps'));
  ({ convergeService } = await import('../../shared/policy-sync/converge'));
});
afterAll(async () => {
  expect(h?.stack.bus.deadLetters()).toEqual([]);
  await h?.stop();
});

type GrantBody = { id: string; caller: string };

const shuffle = <T>(items: readonly T[], random: () => number): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/** A small seeded PRNG (mulberry32), so a failing interleaving can be replayed. */
const prng = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('concurrent grant changes on one service', () => {
  it('converge: after 50 concurrent creations/deletions, delivered concurrently and out of order, Lattice has the compilation of the final grant table', async () => {
    const random = prng(20_240_601);
    const service = 'rates';
    const arn = h.arnOf(service);
    // 20 grants before the burst; the burst deletes 15 of them and creates 35 new ones.
    const initial: GrantBody[] = [];
    for (let i = 0; i < 20; i += 1) {
      const res = await h.api({ method: 'POST', resource: '/grants', body: { service, caller: `spiffe://example.org/burst/old${i}`, ...(i % 3 === 0 ? { methods: ['GET'] } : {}) } });
      initial.push(res.body as GrantBody);
    }
    await h.stack.bus.waitForIdle(15_000);
    const earlierEvents = h.stack.bus.events().filter((e) => e['detail-type'] === 'GrantChanged');

    const deletions = shuffle(initial, random).slice(0, 15);
    const creations = Array.from({ length: 35 }, (_, i) => ({ service, caller: i % 7 === 0 ? `spiffe://example.org/burst/team${i}/*` : `spiffe://example.org/burst/new${i}` }));
    const operations = shuffle(
      [
        ...deletions.map((g) => () => h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: g.id } })),
        ...creations.map((body) => () => h.api({ method: 'POST', resource: '/grants', body })),
      ],
      random,
    );
    // Meanwhile, stale events are re-delivered in reverse order with random delays (EventBridge
    // delivers at least once, in no particular order).
    const replays = [...earlierEvents].reverse().map(async (event) => {
      await sleep(Math.floor(random() * 40));
      await h.stack.invoke('policySync', event);
    });
    // And 20 syncs that read during the burst but whose PutAuthPolicy is held until every other
    // sync is done, then released newest-read first: the stalest put lands last, the case the
    // per-service version exists for. Puts of their later iterations go straight through.
    const base = policyDeps();
    const held: { go: () => void; done: Promise<void> }[] = [];
    let holding = true;
    const heldPolicies: AuthPolicies = {
      get: (serviceArn) => base.policies.get(serviceArn),
      put: async (serviceArn, policy) => {
        if (holding) {
          let go = (): void => {};
          let finish = (): void => {};
          const turn = new Promise<void>((r) => (go = r));
          held.push({ go, done: new Promise<void>((r) => (finish = r)) });
          await turn;
          await base.policies.put(serviceArn, policy).finally(finish);
          return;
        }
        await base.policies.put(serviceArn, policy);
      },
    };
    const heldSyncs = Array.from({ length: 20 }, async (_, i) => {
      await sleep(i * 5);
      return convergeService({ ...base, policies: heldPolicies }, service, { bump: true });
    });
    const results = await Promise.all([...operations.map((op) => op()), ...replays]);
    const statuses = results.filter((r): r is { status: number; headers: Record<string, string>; body: unknown } => r !== undefined).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(35);
    expect(statuses.filter((s) => s === 204)).toHaveLength(15);
    await h.stack.bus.waitForIdle(20_000);
    holding = false;
    for (const put of held.splice(0).reverse()) {
      put.go();
      await put.done;
    }
    const heldResults = await Promise.all(heldSyncs);
    expect(heldResults.some((r) => r.outcome === 'applied' && r.iterations > 1)).toBe(true);
    await h.stack.bus.waitForIdle(20_000);

    const remaining = [...initial.filter((g) => !deletions.includes(g)).map((g) => g.caller), ...creations.map((c) => c.caller)];
    const table = ((await h.api({ method: 'GET', resource: '/grants', query: { service, limit: '100' } })).body as { items: { caller: string; methods?: string[] }[] }).items;
    expect(table.map((g) => g.caller).sort()).toEqual([...remaining].sort());
    const expected = h.expectedPolicy(service, table.map((g) => ({ caller: g.caller, ...(g.methods ? { methods: g.methods } : {}) })));
    // Converged by the burst's own syncs (no later event healed it) ...
    expect(await h.appliedPolicy(service)).toBe(expected);

    // ... and stays so when every burst event is re-delivered, concurrently and shuffled.
    const burstEvents = h.stack.bus.events().filter((e) => e['detail-type'] === 'GrantChanged' && !earlierEvents.some((x) => x.id === e.id));
    expect(burstEvents).toHaveLength(50);
    const puts = h.stack.standIns.lattice.store.putCount(arn);
    await Promise.all(shuffle(burstEvents, random).map((event) => h.stack.invoke('policySync', event)));
    await h.stack.bus.waitForIdle(20_000);
    expect(h.stack.standIns.lattice.store.getAuthPolicy(arn)?.policy).toBe(expected);
    expect(h.stack.standIns.lattice.store.putCount(arn)).toBe(puts);
    const state = (await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name: service } })).body as { state: string; sync: { desiredVersion: number; appliedVersion: number } };
    expect(state.state).toBe('in-sync');
    expect(state.sync.appliedVersion).toBe(state.sync.desiredVersion);
  });
});

describe('convergeService', () => {
  /** Lattice auth policies whose first PutAuthPolicy waits until released: forces "a stale put lands last". */
  const gated = (inner: AuthPolicies): { policies: AuthPolicies; reachedPut: Promise<void>; release: () => void; puts: string[] } => {
    let release = (): void => {};
    let reached = (): void => {};
    const reachedPut = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    const puts: string[] = [];
    let first = true;
    return {
      puts,
      reachedPut,
      release: () => release(),
      policies: {
        get: (arn) => inner.get(arn),
        put: async (arn, policy) => {
          if (first) {
            first = false;
            reached();
            await gate;
          }
          puts.push(policy);
          await inner.put(arn, policy);
        },
      },
    };
  };

  const writeGrant = async (deps: PolicyDeps, service: string, caller: string): Promise<void> => {
    // As the API does: the grant write (no event here: the test drives the syncs), then the bump.
    const grant: Grant = { id: grantIdFor({ service, caller }), service, caller, kind: grantKind(caller), effect: 'Allow', createdAt: new Date().toISOString() };
    expect(await deps.grants.create(grant, [pendingEvent('GrantChanged', { service, change: 'created', grant, cause: 'api' })], new Date())).toBeDefined();
    await deps.services.bumpDesiredVersion(service);
  };

  it('re-runs when its PutAuthPolicy may have overwritten a newer one, so the stale write does not win', async () => {
    const arn = await h.addService('gated');
    await h.stack.bus.waitForIdle(10_000);
    const base = policyDeps();
    const a = 'spiffe://example.org/gated/a';
    const b = 'spiffe://example.org/gated/b';
    await writeGrant(base, 'gated', a);

    const gate = gated(base.policies);
    const slow = convergeService({ ...base, policies: gate.policies }, 'gated', { bump: true });
    await gate.reachedPut; // the slow sync compiled {a} and is about to put it
    await writeGrant(base, 'gated', b);
    const fast = await convergeService(base, 'gated', { bump: true });
    expect(fast).toMatchObject({ outcome: 'applied', iterations: 1, grants: 2 });
    const both = h.expectedPolicy('gated', [{ caller: a }, { caller: b }]);
    expect(h.stack.standIns.lattice.store.getAuthPolicy(arn)?.policy).toBe(both);

    gate.release(); // the stale {a} lands after {a,b} ...
    const result = await slow;
    // ... and the slow sync noticed the version moved, went again and put {a,b} back.
    expect(gate.puts).toEqual([h.expectedPolicy('gated', [{ caller: a }]), both]);
    expect(result).toMatchObject({ outcome: 'applied', iterations: 2, grants: 2 });
    expect(h.stack.standIns.lattice.store.getAuthPolicy(arn)?.policy).toBe(both);
    const record = await base.services.get('gated');
    expect(record?.appliedVersion).toBe(record?.desiredVersion);
  });

  it('stops after one iteration when it did not put (it cannot have overwritten anything), and fails loudly past its bound', async () => {
    const base = policyDeps();
    const quiet = await convergeService(base, 'gated', { bump: true });
    expect(quiet).toMatchObject({ outcome: 'unchanged', iterations: 1, changed: false });

    // A service whose grants change during every iteration: bounded, then an error EventBridge retries.
    const restless: PolicyDeps = {
      ...base,
      maxIterations: 3,
      policies: {
        get: () => Promise.resolve(undefined),
        put: async () => {
          await base.services.bumpDesiredVersion('gated');
        },
      },
    };
    await expect(convergeService(restless, 'gated', { bump: false })).rejects.toMatchObject({ code: 'PolicySyncBusy' });
    expect(await convergeService(base, 'unknown-service', { bump: true })).toEqual({ outcome: 'unknown-service' });
  });

  it('applies a change whose API process died between the grant write and the bump, once the outbox sweep publishes its event', async () => {
    const base = policyDeps();
    const caller = 'spiffe://example.org/gated/orphan';
    const grant: Grant = { id: grantIdFor({ service: 'gated', caller }), service: 'gated', caller, kind: 'exact', effect: 'Allow', createdAt: new Date().toISOString() };
    // The write with its event in the outbox, then nothing: no bump, no flush.
    expect(await base.grants.create(grant, [pendingEvent('GrantChanged', { service: 'gated', change: 'created', grant, cause: 'api' })], new Date())).toBeDefined();
    const state = async (): Promise<string> =>
      ((await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name: 'gated' } })).body as { state: string }).state;
    expect(await state()).not.toBe('in-sync');
    expect(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('gated'))?.policy).not.toContain(caller);
    process.env.OUTBOX_GRACE_MS = '0';
    await h.stack.invoke('outboxSweeper', {});
    await h.stack.bus.waitForIdle(10_000);
    expect(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('gated'))?.policy).toContain(caller);
    expect(await state()).toBe('in-sync');
  });

  it('reports a failing Lattice call as PolicySyncFailed (willRetry) and fails the invocation so EventBridge retries', async () => {
    const { logger } = await import('../../shared/logger');
    logger.setLogLevel('SILENT'); // the expected error log line
    try {
      h.stack.standIns.lattice.injectFault({ operation: 'PutAuthPolicy', error: 'AccessDeniedException', times: 1 });
      const res = await h.api({ method: 'POST', resource: '/grants', body: { service: 'gated', caller: 'spiffe://example.org/gated/c' } });
      expect(res.status).toBe(201);
      await h.stack.bus.waitForIdle(10_000);
    } finally {
      logger.setLogLevel('ERROR');
    }
    const failed = (await h.events('PolicySyncFailed')).filter((e) => e.service === 'gated');
    expect(failed).toEqual([expect.objectContaining({ code: 'AccessDeniedException', willRetry: true, trigger: 'GrantChanged' })]);
    // the retry (second delivery attempt) applied it
    const deliveries = h.stack.bus.deliveries().filter((d) => d.functionName?.endsWith('-policySync') && (d.event.detail as { grant?: { caller: string } }).grant?.caller === 'spiffe://example.org/gated/c');
    expect(deliveries).toEqual([expect.objectContaining({ attempts: 2, status: 'delivered' })]);
    expect(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('gated'))?.policy).toContain('spiffe://example.org/gated/c');
  });
});
