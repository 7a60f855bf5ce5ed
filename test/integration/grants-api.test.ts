import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiEvent, parseResult } from '../support/api-events';
import { ADMIN, NOT_ADMIN, ORDERS, REVIEWS, startHarness, type ErrorBody, type Harness } from './grants-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

type GrantBody = { id: string; service: string; caller: string; kind: string; effect: string; methods?: string[]; pathPrefixes?: string[]; createdAt: string };
type Page<T> = { items: T[]; nextToken?: string };

const create = (body: unknown, callerArn = ADMIN) => h.api({ method: 'POST', resource: '/grants', body, callerArn });

describe('GET /services', () => {
  it('lists the stage services (billing and rates of the local Lattice), seeded from the configuration', async () => {
    const res = await h.api({ method: 'GET', resource: '/services' });
    expect(res.status).toBe(200);
    const items = (res.body as Page<{ name: string; arn: string; source: string }>).items;
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'billing', arn: h.arnOf('billing'), source: 'stage' }),
        expect.objectContaining({ name: 'rates', arn: h.arnOf('rates'), source: 'stage' }),
      ]),
    );
    // each seeded service was announced, so its (deny-all) policy got applied
    const registered = await h.events('ServiceRegistered');
    expect(registered.filter((e) => e.service === 'billing')).toEqual([expect.objectContaining({ arn: h.arnOf('billing'), previousArn: null })]);
  });
});

describe('PUT /services/{name}', () => {
  it('refuses an ARN already managed under another name (409 ServiceArnInUse)', async () => {
    const res = await h.api({ method: 'PUT', resource: '/services/{name}', path: { name: 'billing-copy' }, body: { arn: h.arnOf('billing') } });
    expect(res.status).toBe(409);
    expect((res.body as ErrorBody).error.code).toBe('ServiceArnInUse');
    expect((res.body as ErrorBody).error.message).toContain('"billing"');
  });

  it('registers (201), re-registers unchanged (200), moves to a new ARN (200, ServiceRegistered with previousArn)', async () => {
    const first = h.stack.standIns.lattice.store.createService({ name: 'inventory', authType: 'AWS_IAM' }).service.arn;
    const second = h.stack.standIns.lattice.store.createService({ name: 'inventory-v2', authType: 'AWS_IAM' }).service.arn;
    const put = (arn: string, callerArn = ADMIN) => h.api({ method: 'PUT', resource: '/services/{name}', path: { name: 'inventory' }, body: { arn }, callerArn });
    const created = await put(first);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'inventory', arn: first, source: 'api', createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect((await put(first)).status).toBe(200);
    const moved = await put(second);
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ arn: second });
    const events = (await h.events('ServiceRegistered')).filter((e) => e.service === 'inventory');
    expect(events.map((e) => [e.arn, e.previousArn])).toEqual([
      [first, null],
      [second, first],
    ]);
    // the sync applied the (deny-all) policy to the new ARN
    expect(h.stack.standIns.lattice.store.getAuthPolicy(second)?.policy).toContain('"DenyAll"');

    const denied = await put(first, NOT_ADMIN);
    expect(denied.status).toBe(403);
    const bad = await h.api({ method: 'PUT', resource: '/services/{name}', path: { name: 'Bad_Name' }, body: { arn: first } });
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.details).toContainEqual(expect.objectContaining({ field: 'name', rule: 'service-name' }));
    const badArn = await put('arn:aws:iam::111122223333:role/x');
    expect(badArn.status).toBe(400);
    expect((badArn.body as ErrorBody).error.details).toContainEqual(expect.objectContaining({ field: 'arn', rule: 'format' }));
  });
});

describe('POST /grants', () => {
  it('creates a grant (201, canonical, Location), emits GrantChanged and refuses the same grant again (409)', async () => {
    const res = await create({ service: 'billing', caller: ORDERS, methods: ['POST', 'GET', 'GET'], pathPrefixes: ['/v1/', '/charge'] });
    expect(res.status).toBe(201);
    const grant = res.body as GrantBody;
    expect(grant).toEqual({
      id: expect.stringMatching(/^gr-billing-[0-9a-f]{32}$/),
      service: 'billing',
      caller: ORDERS,
      kind: 'exact',
      effect: 'Allow',
      methods: ['GET', 'POST'],
      pathPrefixes: ['/charge', '/v1/'],
      createdAt: expect.any(String),
    });
    expect(res.headers.Location).toBe(`/grants/${grant.id}`);
    // the same grant written differently is the same grant
    const again = await create({ service: 'billing', caller: ORDERS, methods: ['GET', 'POST'], pathPrefixes: ['/charge', '/v1/'] });
    expect(again.status).toBe(409);
    expect((again.body as ErrorBody).error).toMatchObject({ code: 'GrantExists', message: expect.stringContaining(grant.id) });
    const changed = (await h.events('GrantChanged')).filter((e) => e.grant.id === grant.id);
    expect(changed).toEqual([expect.objectContaining({ service: 'billing', change: 'created', cause: 'api', grant })]);
    expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: grant.id } })).body).toEqual(grant);
  });

  it('creates a deny grant: its own id beside the allow of the same shape, GrantChanged carrying the effect', async () => {
    const shape = { service: 'billing', caller: 'spiffe://example.org/deny-shape/*', methods: ['POST'] };
    const allow = (await create(shape)).body as GrantBody;
    const denyRes = await create({ ...shape, effect: 'Deny' });
    expect(denyRes.status).toBe(201);
    const deny = denyRes.body as GrantBody;
    expect(deny).toMatchObject({ effect: 'Deny', kind: 'prefix', methods: ['POST'] });
    expect(allow.effect).toBe('Allow');
    expect(deny.id).not.toBe(allow.id);
    // "effect": "Allow" written out is the default: the same grant as the one without it
    expect((await create({ ...shape, effect: 'Allow' })).status).toBe(409);
    expect((await create({ ...shape, effect: 'Deny' })).status).toBe(409);
    const changed = (await h.events('GrantChanged')).filter((e) => e.grant.id === deny.id);
    expect(changed).toEqual([expect.objectContaining({ change: 'created', grant: deny })]);
  });

  it('lets exactly one of 10 concurrent identical creations win', async () => {
    const body = { service: 'rates', caller: 'spiffe://example.org/race/*' };
    const results = await Promise.all(Array.from({ length: 10 }, () => create(body)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
    const id = (results.find((r) => r.status === 201)?.body as GrantBody).id;
    expect((await h.events('GrantChanged')).filter((e) => e.grant.id === id)).toHaveLength(1);
  });

  it.each([
    ['not a SPIFFE ID', { caller: 'https://example.org/orders' }, 'caller', 'scheme'],
    ['other trust domain', { caller: 'spiffe://evil.org/service/orders' }, 'caller', 'trust-domain-mismatch'],
    ['other trust domain prefix', { caller: 'spiffe://evil.org/service/*' }, 'caller', 'trust-domain-mismatch'],
    ['wildcard inside the caller', { caller: 'spiffe://example.org/service/*/admin' }, 'caller', 'path-chars'],
    ['partial-segment prefix', { caller: 'spiffe://example.org/service/ord*' }, 'caller', 'path-chars'],
    ['trust domain without path', { caller: 'spiffe://example.org' }, 'caller', 'path-required'],
    ['policy variable in the caller', { caller: 'spiffe://example.org/${aws:username}' }, 'caller', 'path-chars'],
    ['lower-case method', { methods: ['get'] }, 'methods[0]', 'method'],
    ['not an HTTP method', { methods: ['GET', 'FETCH'] }, 'methods[1]', 'method'],
    ['empty methods', { methods: [] }, 'methods', 'empty-list'],
    ['path not starting with /', { pathPrefixes: ['charge'] }, 'pathPrefixes[0]', 'path-start'],
    ['path with a wildcard', { pathPrefixes: ['/v1/*'] }, 'pathPrefixes[0]', 'path-wildcard'],
    ['path with ?', { pathPrefixes: ['/v1?x'] }, 'pathPrefixes[0]', 'path-wildcard'],
    ['path with a policy variable', { pathPrefixes: ['/${aws:username}'] }, 'pathPrefixes[0]', 'path-variable'],
    ['bad service name', { service: 'Billing!' }, 'service', 'service-name'],
    ['unknown field', { verdict: 'Deny' }, 'verdict', 'unknown-field'],
    ['unknown effect', { effect: 'Block' }, 'effect', 'effect'],
    ['effect in lower case', { effect: 'deny' }, 'effect', 'effect'],
    ['caller missing', { caller: undefined }, 'caller', 'required'],
  ])('answers 400 naming the rule: %s', async (_name, patch, field, rule) => {
    const res = await create({ service: 'billing', caller: ORDERS, ...patch });
    expect(res.status).toBe(400);
    const { error } = res.body as ErrorBody;
    expect(error.code).toBe('ValidationFailed');
    expect(error.details).toContainEqual(expect.objectContaining({ field, rule }));
  });

  it('answers 404 for a service Trellis does not manage, 403 to a non-administrator, and writes nothing', async () => {
    const unknown = await create({ service: 'payroll', caller: ORDERS });
    expect(unknown.status).toBe(404);
    expect((unknown.body as ErrorBody).error.code).toBe('ServiceNotFound');
    const denied = await create({ service: 'billing', caller: 'spiffe://example.org/service/sneaky' }, NOT_ADMIN);
    expect(denied.status).toBe(403);
    expect((denied.body as ErrorBody).error.message).toContain(NOT_ADMIN);
    const listed = (await h.api({ method: 'GET', resource: '/grants', query: { caller: 'spiffe://example.org/service/sneaky' } })).body as Page<GrantBody>;
    expect(listed.items).toEqual([]);
  });
});

describe('GET /grants', () => {
  it('lists by service, by caller and by both, page by page, with tokens valid only for their listing', async () => {
    const callers = [0, 1, 2, 3, 4].map((i) => `spiffe://example.org/list/w${i}`);
    for (const caller of callers) expect((await create({ service: 'rates', caller })).status).toBe(201);
    expect((await create({ service: 'billing', caller: callers[0] })).status).toBe(201);

    const seen: GrantBody[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await h.api({ method: 'GET', resource: '/grants', query: { service: 'rates', limit: '2', ...(token ? { nextToken: token } : {}) } });
      expect(res.status).toBe(200);
      const page = res.body as Page<GrantBody>;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      token = page.nextToken;
      pages += 1;
    } while (token && pages < 50);
    expect(seen.every((g) => g.service === 'rates')).toBe(true);
    expect(seen.map((g) => g.caller).filter((c) => c.startsWith('spiffe://example.org/list/')).sort()).toEqual(callers);

    const byCaller = (await h.api({ method: 'GET', resource: '/grants', query: { caller: callers[0] as string } })).body as Page<GrantBody>;
    expect(byCaller.items.map((g) => g.service).sort()).toEqual(['billing', 'rates']);
    const both = (await h.api({ method: 'GET', resource: '/grants', query: { caller: callers[0] as string, service: 'billing' } })).body as Page<GrantBody>;
    expect(both.items.map((g) => [g.service, g.caller])).toEqual([['billing', callers[0]]]);

    const first = (await h.api({ method: 'GET', resource: '/grants', query: { service: 'rates', limit: '1' } })).body as Page<GrantBody>;
    const reused = await h.api({ method: 'GET', resource: '/grants', query: { service: 'billing', nextToken: first.nextToken as string } });
    expect(reused.status).toBe(400);
    expect((reused.body as ErrorBody).error.code).toBe('InvalidNextToken');
    expect((await h.api({ method: 'GET', resource: '/grants', query: { service: 'payroll' } })).status).toBe(404);
    const badCaller = await h.api({ method: 'GET', resource: '/grants', query: { caller: 'spiffe://evil.org/x' } });
    expect(badCaller.status).toBe(400);
    expect((badCaller.body as ErrorBody).error.details).toContainEqual(expect.objectContaining({ field: 'caller', rule: 'trust-domain-mismatch' }));
    expect((await h.api({ method: 'GET', resource: '/grants', query: { limit: '101' } })).status).toBe(400);
  });
});

describe('DELETE /grants/{id}', () => {
  it('answers 204 and emits GrantChanged, then 404; a deleted grant can be created again at once', async () => {
    const body = { service: 'billing', caller: 'spiffe://example.org/service/temp' };
    const grant = (await create(body)).body as GrantBody;
    expect((await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: grant.id }, callerArn: NOT_ADMIN })).status).toBe(403);
    expect((await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: grant.id } })).status).toBe(204);
    expect((await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: grant.id } })).status).toBe(404);
    expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: grant.id } })).status).toBe(404);
    for (const id of ['gr-billing-00000000000000000000000000000000', 'nonsense', 'gr-BAD-00000000000000000000000000000000']) {
      const res = await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id } });
      expect(res.status).toBe(404);
      expect((res.body as ErrorBody).error.code).toBe('GrantNotFound');
    }
    const events = (await h.events('GrantChanged')).filter((e) => e.grant.id === grant.id);
    expect(events.map((e) => e.change)).toEqual(['created', 'deleted']);
    expect((await create(body)).status).toBe(201);
  });
});

describe('deleting a workload', () => {
  it('removes its exact-ID allow grants on every service (GrantChanged each) and keeps deny, prefix and other grants', async () => {
    const spiffeId = 'spiffe://example.org/service/leaving';
    const registered = parseResult(
      await h.stack.invoke('workloads', apiEvent({ method: 'POST', resource: '/workloads', callerArn: ADMIN, body: { spiffeId, selectors: { awsPrincipalArns: [] } } })),
    );
    expect(registered.status).toBe(201);
    const exactBilling = (await create({ service: 'billing', caller: spiffeId })).body as GrantBody;
    const exactRates = (await create({ service: 'rates', caller: spiffeId, methods: ['GET'] })).body as GrantBody;
    const prefix = (await create({ service: 'rates', caller: 'spiffe://example.org/service/*' })).body as GrantBody;
    const other = (await create({ service: 'billing', caller: REVIEWS })).body as GrantBody;
    // the exception under the prefix guards the ID, whether or not a workload holds it now
    const denied = (await create({ service: 'rates', effect: 'Deny', caller: spiffeId, methods: ['DELETE'] })).body as GrantBody;
    await h.stack.bus.waitForIdle(10_000);
    expect(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('billing'))?.policy).toContain(spiffeId);

    const id = (registered.body as { id: string }).id;
    expect(parseResult(await h.stack.invoke('workloads', apiEvent({ method: 'DELETE', resource: '/workloads/{id}', path: { id }, callerArn: ADMIN }))).status).toBe(204);

    const deletions = (await h.events('GrantChanged')).filter((e) => e.change === 'deleted' && e.cause === 'workload-deleted');
    expect(deletions.map((e) => e.grant.id).sort()).toEqual([exactBilling.id, exactRates.id].sort());
    expect(deletions.map((e) => e.service).sort()).toEqual(['billing', 'rates']);
    const left = (await h.api({ method: 'GET', resource: '/grants', query: { caller: spiffeId } })).body as Page<GrantBody>;
    expect(left.items.map((g) => g.id)).toEqual([denied.id]);
    for (const kept of [prefix, other]) expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: kept.id } })).status).toBe(200);
    // both policies were recompiled without the caller
    expect(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('billing'))?.policy).not.toContain(spiffeId);
    // rates names the ID only in the deny that stays
    const rates = JSON.parse(h.stack.standIns.lattice.store.getAuthPolicy(h.arnOf('rates'))?.policy ?? '{}') as { Statement: { Effect: string }[] };
    expect(rates.Statement.filter((st) => JSON.stringify(st).includes(spiffeId)).map((st) => st.Effect)).toEqual(['Deny']);
  });

  it('a late or repeated WorkloadDeleted leaves the grants of the same SPIFFE ID registered again afterwards', async () => {
    const spiffeId = 'spiffe://example.org/service/returning';
    const register = () => h.stack.invoke('workloads', apiEvent({ method: 'POST', resource: '/workloads', callerArn: ADMIN, body: { spiffeId, selectors: { awsPrincipalArns: [] } } }));
    const id = (parseResult(await register()).body as { id: string }).id;
    expect(parseResult(await h.stack.invoke('workloads', apiEvent({ method: 'DELETE', resource: '/workloads/{id}', path: { id }, callerArn: ADMIN }))).status).toBe(204);
    await h.stack.bus.waitForIdle(10_000);
    const oldDeletion = h.stack.bus.events().find((e) => e['detail-type'] === 'WorkloadDeleted' && (e.detail as { spiffeId: string }).spiffeId === spiffeId);
    expect(oldDeletion).toBeDefined();

    expect(parseResult(await register()).status).toBe(201);
    const grant = (await create({ service: 'billing', caller: spiffeId })).body as GrantBody;
    await h.stack.bus.waitForIdle(10_000);
    // the old deletion delivered again (EventBridge retry, DLQ replay, outbox sweep)
    expect(await h.stack.invoke('grantsCleanup', oldDeletion)).toEqual({ removed: [] });
    expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: grant.id } })).status).toBe(200);
  });
});

describe('dry runs', () => {
  type Preview = {
    outcome: string;
    grant: GrantBody;
    policy: { before: { bytes: number } | null; after: { bytes: number; limit: number; fits: boolean }; added: { Effect: string }[]; removed: unknown[] };
    access: { changes: { caller: string; method: string; pathPrefix: string; before: string; after: string }[] };
  };
  const desiredVersion = async (name: string): Promise<number> =>
    ((await h.api({ method: 'GET', resource: '/services/{name}/policy', path: { name } })).body as { sync: { desiredVersion: number } }).sync.desiredVersion;

  it('POST /grants?dryRun=true previews a deny (statement added, size, whose access changes) and writes and emits nothing', async () => {
    await h.addService('preview');
    const allow = (await create({ service: 'preview', caller: 'spiffe://example.org/team-a/*' })).body as GrantBody;
    await h.stack.bus.waitForIdle(10_000);
    const eventsBefore = (await h.events('GrantChanged')).length;
    const versionBefore = await desiredVersion('preview');

    const body = { service: 'preview', effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*', methods: ['POST'] };
    const res = await h.api({ method: 'POST', resource: '/grants', body, query: { dryRun: 'true' } });
    expect(res.status).toBe(200);
    const preview = res.body as Preview;
    expect(preview).toMatchObject({ outcome: 'would-apply', grant: { effect: 'Deny', caller: body.caller } });
    expect(preview.policy.added.map((s) => s.Effect)).toEqual(['Deny']);
    expect(preview.policy.removed).toEqual([]);
    expect(preview.policy.after).toMatchObject({ limit: 10_000, fits: true });
    expect(preview.policy.after.bytes).toBeGreaterThan(preview.policy.before?.bytes ?? 0);
    expect(preview.access.changes).toEqual([{ caller: body.caller, method: 'POST', pathPrefix: '*', before: 'ALLOW', after: 'DENY' }]);

    // nothing written, nothing emitted, nothing pending
    expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: preview.grant.id } })).status).toBe(404);
    expect((await h.events('GrantChanged')).length).toBe(eventsBefore);
    expect(await desiredVersion('preview')).toBe(versionBefore);

    // the same checks as the real call
    expect((await h.api({ method: 'POST', resource: '/grants', body: { service: 'preview', caller: allow.caller }, query: { dryRun: 'true' } })).status).toBe(409);
    const bad = await h.api({ method: 'POST', resource: '/grants', body, query: { dryRun: 'yes' } });
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).error.details).toEqual([expect.objectContaining({ field: 'dryRun', rule: 'boolean' })]);
    expect((await h.api({ method: 'POST', resource: '/grants', body, query: { dryRun: 'true' }, callerArn: NOT_ADMIN })).status).toBe(403);

    // DELETE ?dryRun=true: the allow's removal takes team-a's access; the grant stays
    const del = await h.api({ method: 'DELETE', resource: '/grants/{id}', path: { id: allow.id }, query: { dryRun: 'true' } });
    expect(del.status).toBe(200);
    const removal = del.body as Preview;
    expect(removal.policy.removed).toHaveLength(1);
    expect(removal.access.changes).toEqual([{ caller: allow.caller, method: '*', pathPrefix: '*', before: 'ALLOW', after: 'DENY' }]);
    expect((await h.api({ method: 'GET', resource: '/grants/{id}', path: { id: allow.id } })).status).toBe(200);
    expect((await h.events('GrantChanged')).length).toBe(eventsBefore);
  });

  it('reports a grant over the quota as refused, with the size it would have', async () => {
    await h.addService('crowded');
    // Long exact callers (the longest IDs Trellis issues are 253 characters) until the real call refuses one.
    const callerOf = (i: number): string => `spiffe://example.org/crowd/${String(i).padStart(3, '0')}-${'m'.repeat(200)}`;
    let refused: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && refused === undefined; i += 1) {
      const body = { service: 'crowded', caller: callerOf(i), methods: ['GET'] };
      const real = await create(body);
      if (real.status === 422) refused = body;
      else expect(real.status).toBe(201);
    }
    expect(refused).toBeDefined();
    const res = await h.api({ method: 'POST', resource: '/grants', body: refused, query: { dryRun: 'true' } });
    expect(res.status).toBe(200);
    const preview = res.body as Preview & { error: { code: string } | null };
    expect(preview).toMatchObject({ outcome: 'refused', error: { code: 'PolicyTooLarge' }, policy: { after: { fits: false, limit: 10_000 }, added: [] } });
    expect(preview.policy.after.bytes).toBeGreaterThan(10_000);
  });
});
