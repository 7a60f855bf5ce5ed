import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_IDENTITY } from '../../local/stand-ins';
import { evaluatePolicy } from '../../shared/policy/evaluator';
import { ADMIN, ORDERS, REVIEWS, startHarness, type Harness } from './grants-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  expect(h?.stack.bus.deadLetters()).toEqual([]);
  await h?.stop();
});

type GrantBody = { id: string };
type PolicyView = {
  state: string;
  grants: number;
  compiled: { policy: string | null; bytes: number; limit?: number; error?: { code: string; suggestions: string[] } };
  applied: { policy: string; bytes: number; state: string | null } | null;
  sync: { desiredVersion: number; appliedVersion: number | null; lastSync: { outcome: string } | null };
};

const grant = async (body: Record<string, unknown>): Promise<GrantBody> => {
  const res = await h.api({ method: 'POST', resource: '/grants', body });
  expect(res.status).toBe(201);
  return res.body as GrantBody;
};
const view = async (name: string): Promise<PolicyView> => {
  const res = await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name } });
  expect(res.status).toBe(200);
  return res.body as PolicyView;
};

/** How Lattice decides a request of a Roles Anywhere session whose SVID names `caller`. */
const decide = (policy: string, serviceArn: string, caller: string, method = 'GET', path = '/'): string =>
  evaluatePolicy(policy, {
    principal: 'arn:aws:sts::111122223333:assumed-role/trellis-local-workload/session',
    action: 'vpc-lattice-svcs:Invoke',
    resource: `${serviceArn}${path}`,
    context: {
      'aws:PrincipalArn': LOCAL_IDENTITY.workloadRoleArn,
      'aws:PrincipalTag/x509SAN/URI': caller,
      'vpc-lattice-svcs:RequestMethod': method,
      'vpc-lattice-svcs:RequestPath': path,
    },
  }).decision;

describe('grant API → GrantChanged → policy sync → Lattice', () => {
  it('applies the reference scenario: Orders may call Billing and Rates, Reviews only Rates, nobody else', async () => {
    await grant({ service: 'billing', caller: ORDERS });
    await grant({ service: 'rates', caller: ORDERS });
    await grant({ service: 'rates', caller: REVIEWS });
    await h.stack.bus.waitForIdle(10_000);

    // read back through the VPC Lattice API with the real SDK client
    const billing = await h.appliedPolicy('billing');
    const rates = await h.appliedPolicy('rates');
    expect(billing).toBe(h.expectedPolicy('billing', [{ caller: ORDERS }]));
    expect(rates).toBe(h.expectedPolicy('rates', [{ caller: ORDERS }, { caller: REVIEWS }]));
    expect(decide(billing as string, h.arnOf('billing'), ORDERS)).toBe('Allow');
    expect(decide(billing as string, h.arnOf('billing'), REVIEWS)).toBe('ImplicitDeny');
    expect(decide(rates as string, h.arnOf('rates'), REVIEWS, 'POST', '/quote')).toBe('Allow');
    expect(decide(rates as string, h.arnOf('rates'), 'spiffe://other.org/service/orders')).toBe('ImplicitDeny');

    const applied = (await h.events('PolicyApplied')).filter((e) => e.service === 'rates' && e.trigger === 'GrantChanged' && e.changed);
    expect(applied.at(-1)).toMatchObject({ serviceArn: h.arnOf('rates'), grants: 2, bytes: Buffer.byteLength(rates as string) });
    const state = await view('rates');
    expect(state).toMatchObject({ state: 'in-sync', grants: 2, compiled: { policy: rates }, applied: { policy: rates, state: 'Active' } });
    expect(state.sync.appliedVersion).toBe(state.sync.desiredVersion);
  });

  it('does not call PutAuthPolicy when nothing changed (a replayed event, an identical grant set)', async () => {
    const arn = h.arnOf('rates');
    const store = h.stack.standIns.lattice.store;
    const puts = store.putCount(arn);
    const lastChange = (await h.events('GrantChanged')).filter((e) => e.service === 'rates').at(-1);
    const replay = h.stack.bus.events().find((e) => (e.detail as { eventId?: string }).eventId === lastChange?.eventId);
    await h.stack.invoke('policySync', replay);
    // a grant covered by an existing one compiles to the same policy
    const covered = await grant({ service: 'rates', caller: ORDERS, methods: ['GET'] });
    await h.stack.bus.waitForIdle(10_000);
    expect(store.putCount(arn)).toBe(puts);
    const unchanged = (await h.events('PolicyApplied')).filter((e) => e.service === 'rates').slice(-2);
    expect(unchanged.map((e) => e.changed)).toEqual([false, false]);
    expect((await view('rates')).state).toBe('in-sync');
    expect((await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: covered.id } })).status).toBe(204);
    await h.stack.bus.waitForIdle(10_000);
    expect(store.putCount(arn)).toBe(puts);
  });

  it('narrows by method and path, and a prefix grant admits every ID under it', async () => {
    const arn = await h.addService('ledger');
    await grant({ service: 'ledger', caller: 'spiffe://example.org/team/finance/*', methods: ['GET'], pathPrefixes: ['/reports/'] });
    await h.stack.bus.waitForIdle(10_000);
    const policy = (await h.appliedPolicy('ledger')) as string;
    expect(decide(policy, arn, 'spiffe://example.org/team/finance/audit', 'GET', '/reports/q3')).toBe('Allow');
    expect(decide(policy, arn, 'spiffe://example.org/team/finance/audit', 'POST', '/reports/q3')).toBe('ImplicitDeny');
    expect(decide(policy, arn, 'spiffe://example.org/team/finance/audit', 'GET', '/admin')).toBe('ImplicitDeny');
    expect(decide(policy, arn, 'spiffe://example.org/team/financex', 'GET', '/reports/q3')).toBe('ImplicitDeny');
  });

  it('enforces a deny grant as an exception to a broader allow, and lifts it when the deny is removed', async () => {
    const arn = await h.addService('vault');
    await grant({ service: 'vault', caller: 'spiffe://example.org/team-a/*' });
    const deny = await grant({ service: 'vault', effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*', methods: ['POST'] });
    await h.stack.bus.waitForIdle(10_000);
    const policy = (await h.appliedPolicy('vault')) as string;
    expect(policy).toBe(h.expectedPolicy('vault', [{ caller: 'spiffe://example.org/team-a/*' }, { effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*', methods: ['POST'] }]));
    expect(decide(policy, arn, 'spiffe://example.org/team-a/legacy/batch', 'POST', '/')).toBe('ExplicitDeny');
    expect(decide(policy, arn, 'spiffe://example.org/team-a/legacy/batch', 'GET', '/')).toBe('Allow');
    expect(decide(policy, arn, 'spiffe://example.org/team-a/api', 'POST', '/')).toBe('Allow');
    expect((await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: deny.id } })).status).toBe(204);
    await h.stack.bus.waitForIdle(10_000);
    expect(decide((await h.appliedPolicy('vault')) as string, arn, 'spiffe://example.org/team-a/legacy/batch', 'POST', '/')).toBe('Allow');
  });
});

describe('the size limit', () => {
  it('keeps the applied policy and emits PolicySyncFailed with the size, the limit and suggestions', async () => {
    const arn = await h.addService('bulky');
    const store = h.stack.standIns.lattice.store;
    // Long, distinct path prefixes: one statement each (~1.4 KB), so the 8th grant crosses 10,000 bytes.
    const long = (i: number): string => `/${String(i).repeat(1000)}/`;
    for (let i = 1; i <= 6; i += 1) await grant({ service: 'bulky', caller: `spiffe://example.org/team/w${i}`, pathPrefixes: [long(i)] });
    await h.stack.bus.waitForIdle(10_000);
    const before = store.getAuthPolicy(arn);
    expect(before?.policy).toContain('/666');
    const puts = store.putCount(arn);

    await grant({ service: 'bulky', caller: 'spiffe://example.org/team/w7', pathPrefixes: [long(7)] });
    // The API refuses the grant that would cross the quota, naming the size and the way out...
    const refused = await h.api({ method: 'POST', resource: '/grants', body: { service: 'bulky', caller: 'spiffe://example.org/team/w8', pathPrefixes: [long(8)] } });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: { code: 'PolicyTooLarge', message: expect.stringContaining('10000-byte'), details: expect.arrayContaining([expect.objectContaining({ rule: 'policy-too-large' })]) } });
    // ...but grants created concurrently can still cross it together: the sync must hold then too.
    const { storeGrant } = await import('../../shared/grants/service');
    const { grantsDeps } = await import('../../shared/grants/deps');
    await storeGrant(grantsDeps(), { service: 'bulky', caller: 'spiffe://example.org/team/w8', pathPrefixes: [long(8)] });
    await h.stack.bus.waitForIdle(10_000);

    const failed = (await h.events('PolicySyncFailed')).filter((e) => e.service === 'bulky');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    const last = failed.at(-1);
    expect(last).toMatchObject({ code: 'PolicyTooLarge', limit: 10_000, willRetry: false, serviceArn: arn });
    expect(last?.bytes).toBeGreaterThan(10_000);
    expect(last?.message).toContain('10000-byte');
    expect(last?.suggestions).toEqual([expect.stringContaining('spiffe://example.org/team/* would replace')]);
    // the applied policy is the last one that fit; Lattice was not asked to take the big one
    const afterFail = store.getAuthPolicy(arn);
    expect(Buffer.byteLength(afterFail?.policy ?? '')).toBeLessThanOrEqual(10_000);
    expect(afterFail?.policy).not.toContain('/888');
    expect(store.putCount(arn) - puts).toBeLessThanOrEqual(1);

    const state = await view('bulky');
    expect(state).toMatchObject({ state: 'failed', compiled: { policy: null, limit: 10_000, error: { code: 'PolicyTooLarge' } }, applied: { policy: afterFail?.policy } });
    expect(state.compiled.bytes).toBe(last?.bytes);
  });
});

describe('the scheduled reconcile', () => {
  it('repairs a policy changed outside Trellis and one removed, emits PolicyDriftRepaired, and leaves equal ones alone', async () => {
    const store = h.stack.standIns.lattice.store;
    await h.stack.invoke('policyReconciler', {});
    await h.stack.bus.waitForIdle(10_000);
    const billing = h.arnOf('billing');
    const rates = h.arnOf('rates');
    const good = { billing: store.getAuthPolicy(billing)?.policy, rates: store.getAuthPolicy(rates)?.policy };

    const open = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'vpc-lattice-svcs:Invoke', Resource: '*' }] });
    store.setAuthPolicyOutOfBand(billing, open);
    store.setAuthPolicyOutOfBand(rates, null);
    expect((await view('billing')).state).toBe('drifted');
    const before = (await h.events('PolicyDriftRepaired')).length;

    const summary = (await h.stack.invoke('policyReconciler', {})) as { repaired: { service: string; found: string }[]; failed: { service: string }[] };
    expect(summary.repaired).toEqual(
      expect.arrayContaining([
        { service: 'billing', found: 'changed-outside-trellis' },
        { service: 'rates', found: 'missing' },
      ]),
    );
    expect(summary.repaired).toHaveLength(2);
    expect(store.getAuthPolicy(billing)?.policy).toBe(good.billing);
    expect(store.getAuthPolicy(rates)?.policy).toBe(good.rates);
    const repaired = (await h.events('PolicyDriftRepaired')).slice(before);
    expect(repaired.find((e) => e.service === 'billing')).toMatchObject({ found: 'changed-outside-trellis', previousBytes: Buffer.byteLength(open), serviceArn: billing });
    expect(repaired.find((e) => e.service === 'rates')).toMatchObject({ found: 'missing', previousPolicySha256: null, previousBytes: null });
    expect((await view('billing')).state).toBe('in-sync');

    // the same document, reformatted (spaces, other key order): not drift, no PutAuthPolicy
    const parsed = JSON.parse(good.billing as string) as { Version: string; Statement: unknown[] };
    store.setAuthPolicyOutOfBand(billing, JSON.stringify({ Statement: parsed.Statement, Version: parsed.Version }, null, 1).replace(/\n/g, ' '));
    const puts = store.putCount(billing);
    const quiet = (await h.stack.invoke('policyReconciler', {})) as { repaired: unknown[] };
    expect(quiet.repaired).toEqual([]);
    expect(store.putCount(billing)).toBe(puts);
    expect((await view('billing')).state).toBe('in-sync');
  });
});

describe('services nobody may call', () => {
  it('get an explicit deny-all policy', async () => {
    const arn = await h.addService('lonely');
    await h.stack.bus.waitForIdle(10_000);
    const policy = (await h.appliedPolicy('lonely')) as string;
    expect(JSON.parse(policy)).toMatchObject({ Statement: [{ Effect: 'Deny', Sid: 'DenyAll' }] });
    expect(decide(policy, arn, ORDERS)).toBe('ExplicitDeny');
  });

  it('403 for a non-administrator changing grants still lets anyone read the policy', async () => {
    const res = await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name: 'billing' }, callerArn: 'arn:aws:iam::111122223333:role/reader' });
    expect(res.status).toBe(200);
    expect((await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name: 'payroll' }, callerArn: ADMIN })).status).toBe(404);
  });
});

describe('GET /services/{name}/decision', () => {
  type Explanation = { decision: string; evaluation: string; statement: { sid: string | null } | null; grants: { id: string }[]; policyState: string; nearest: { grantId: string; differs: string[] }[]; blockedBy: { id: string }[] };
  const explain = async (name: string, query: Record<string, string>, callerArn?: string) => {
    const res = await h.api({ method: 'GET', resource: '/services/{name}/decision', path: { name }, query, ...(callerArn ? { callerArn } : {}) });
    return res;
  };

  it('explains the applied policy to any IAM caller: the deciding statement, its grants, the nearest grant for a denial', async () => {
    await h.addService('atlas');
    const allow = await grant({ service: 'atlas', caller: 'spiffe://example.org/team-a/*', methods: ['GET'] });
    const deny = await grant({ service: 'atlas', effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*' });
    await h.stack.bus.waitForIdle(10_000);

    const allowed = await explain('atlas', { caller: 'spiffe://example.org/team-a/api', method: 'GET', path: '/v1' }, 'arn:aws:sts::111122223333:assumed-role/developer/alice');
    expect(allowed.status).toBe(200);
    expect(allowed.body).toMatchObject({ decision: 'ALLOW', policyState: 'in-sync', statement: { sid: expect.stringMatching(/^AllowPrefix/) as unknown as string }, grants: [{ id: allow.id }] });

    const denied = (await explain('atlas', { caller: 'spiffe://example.org/team-a/legacy/x', method: 'GET' })).body as Explanation;
    expect(denied).toMatchObject({ decision: 'DENY', evaluation: 'ExplicitDeny', grants: [{ id: deny.id }], blockedBy: [{ id: deny.id }] });

    const wrongMethod = (await explain('atlas', { caller: 'spiffe://example.org/team-a/api', method: 'POST' })).body as Explanation;
    expect(wrongMethod).toMatchObject({ decision: 'DENY', evaluation: 'ImplicitDeny', statement: null, nearest: [{ grantId: allow.id, differs: ['method'] }] });
  });

  it('answers 400 naming the field, 404 for an unknown service', async () => {
    const bad = await explain('billing', { caller: 'spiffe://example.org/x', method: 'get' });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { details: { field: string; rule: string }[] } }).error.details).toEqual([expect.objectContaining({ field: 'method', rule: 'method' })]);
    const missing = await explain('billing', {});
    expect((missing.body as { error: { details: { field: string }[] } }).error.details.map((d) => d.field)).toEqual(['caller']);
    expect((await explain('payroll', { caller: ORDERS })).status).toBe(404);
  });
});

describe('PUT /services/{name}/grants', () => {
  type SetResult = { revision: string; changed: boolean; created: { id: string }[]; deleted: { id: string }[]; access: { changes: unknown[] } };
  const put = (name: string, grants: unknown[], extra: { headers?: Record<string, string>; query?: Record<string, string>; callerArn?: string } = {}) =>
    h.api({ method: 'PUT', resource: '/services/{name}/grants', path: { name }, body: { grants }, ...extra });
  const counts = async (service: string) => ({
    changed: (await h.events('GrantChanged')).filter((e) => e.service === service).length,
    sets: (await h.events('GrantSetReplaced')).filter((e) => e.service === service).length,
    applied: (await h.events('PolicyApplied')).filter((e) => e.service === service).length,
  });

  it('replaces the set in one step with one policy sync; the same set again changes and emits nothing', async () => {
    const arn = await h.addService('ledger-set');
    const old = await grant({ service: 'ledger-set', caller: 'spiffe://example.org/old/reader' });
    await h.stack.bus.waitForIdle(10_000);
    const before = await counts('ledger-set');
    const desired = [
      { caller: 'spiffe://example.org/team-a/*', methods: ['GET'] },
      { caller: ORDERS },
      { effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*' },
    ];
    const first = await put('ledger-set', desired);
    expect(first.status).toBe(200);
    const result = first.body as SetResult;
    expect(result).toMatchObject({ changed: true, deleted: [{ id: old.id }] });
    expect(result.created).toHaveLength(3);
    expect(first.headers.ETag).toBe(`"${result.revision}"`);
    await h.stack.bus.waitForIdle(10_000);

    const after = await counts('ledger-set');
    expect(after.changed - before.changed).toBe(4); // 3 created, 1 deleted, each announced
    expect(after.sets - before.sets).toBe(1);
    expect(after.applied - before.applied).toBe(1); // one sync for the whole set
    const applied = (await h.events('PolicyApplied')).filter((e) => e.service === 'ledger-set').at(-1);
    expect(applied).toMatchObject({ trigger: 'GrantSetReplaced', changed: true, grants: 3 });
    const policy = (await h.appliedPolicy('ledger-set')) as string;
    expect(policy).toBe(h.expectedPolicy('ledger-set', desired as { caller: string }[]));
    expect(decide(policy, arn, 'spiffe://example.org/team-a/legacy/x')).toBe('ExplicitDeny');
    expect(decide(policy, arn, 'spiffe://example.org/old/reader')).toBe('ImplicitDeny');
    expect((await view('ledger-set')) as unknown).toMatchObject({ state: 'in-sync', grantRevision: result.revision });

    // idempotent: the same set (in another order) writes and emits nothing
    const again = await put('ledger-set', [...desired].reverse(), { headers: { 'If-Match': `"${result.revision}"` } });
    expect(again.body).toMatchObject({ changed: false, created: [], deleted: [], revision: result.revision });
    await h.stack.bus.waitForIdle(10_000);
    expect(await counts('ledger-set')).toEqual(after);
  });

  it('checks If-Match, the whole set (400 naming grants[i]), the quota and dryRun, writing nothing on refusal', async () => {
    await h.addService('ledger-check');
    await grant({ service: 'ledger-check', caller: ORDERS });
    await h.stack.bus.waitForIdle(10_000);
    const before = await counts('ledger-check');
    const stale = await put('ledger-check', [{ caller: REVIEWS }], { headers: { 'If-Match': '"0000"' } });
    expect(stale.status).toBe(412);
    const invalid = await put('ledger-check', [{ caller: REVIEWS }, { caller: 'spiffe://evil.org/x', methods: ['get'] }]);
    expect(invalid.status).toBe(400);
    expect((invalid.body as { error: { details: { field: string; rule: string }[] } }).error.details.map((d) => `${d.field}:${d.rule}`)).toEqual(['grants[1].caller:trust-domain-mismatch', 'grants[1].methods[0]:method']);
    const big = Array.from({ length: 60 }, (_, i) => ({ caller: `spiffe://example.org/crowd/${String(i).padStart(3, '0')}-${'m'.repeat(200)}` }));
    expect((await put('ledger-check', big)).status).toBe(422);
    expect((await put('ledger-check', [{ caller: REVIEWS }], { callerArn: 'arn:aws:sts::111122223333:assumed-role/developer/alice' })).status).toBe(403);
    const dry = await put('ledger-check', [{ caller: REVIEWS }], { query: { dryRun: 'true' } });
    expect(dry.body).toMatchObject({ changed: true, dryRun: true, created: [{ caller: REVIEWS }], deleted: [{ caller: ORDERS }] });
    await h.stack.bus.waitForIdle(10_000);
    expect(await counts('ledger-check')).toEqual(before);
    expect(((await h.api({ method: 'GET', resource: '/grants', query: { service: 'ledger-check' } })).body as { items: { caller: string }[] }).items.map((g) => g.caller)).toEqual([ORDERS]);
  });
});
