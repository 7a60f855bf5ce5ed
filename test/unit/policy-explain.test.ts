import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrellisError } from '../../shared/errors';
import { grantIdFor, grantKind, type StoredGrant, type StoredService } from '../../shared/grants/model';
import { compilePolicy, grantMatches, grantsAllow } from '../../shared/policy/compiler';
import { nearestAllowing } from '../../shared/policy/nearest-grant';
import { roleSessionRequest } from '../../shared/policy/session-request';
import type { PolicyDeps } from '../../shared/policy-sync/deps';
import { explainDecision, parseDecisionQuery } from '../../shared/policy-sync/explain-decision';
import { iamSimulateDecision } from '../support/iam-simulate';

const ACCOUNT = '111122223333';
const ARN = `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-0c222222222222222`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trellis-dev-workload`;
const SERVICE: StoredService = { name: 'rates', arn: ARN, source: 'stage', createdAt: '2025-01-01T00:00:00Z', updatedAt: '2025-01-01T00:00:00Z', revision: 1, desiredVersion: 3, appliedVersion: 3 };

type GrantShape = { effect?: 'Allow' | 'Deny'; caller: string; methods?: string[]; pathPrefixes?: string[] };

const stored = (shape: GrantShape): StoredGrant => ({
  id: grantIdFor({ service: 'rates', ...shape }),
  service: 'rates',
  caller: shape.caller,
  kind: grantKind(shape.caller),
  effect: shape.effect ?? 'Allow',
  ...(shape.methods ? { methods: shape.methods } : {}),
  ...(shape.pathPrefixes ? { pathPrefixes: shape.pathPrefixes } : {}),
  createdAt: '2025-01-01T00:00:00Z',
  revision: 1,
});

const compileSettings = (issuerOu?: string) => ({ principalArn: ROLE, trustDomain: 'example.org', ...(issuerOu ? { issuerOu } : {}) });

/** Deps whose grant table holds `grants` and whose Lattice has `applied` (default: their compilation, i.e. in sync). */
function depsFor(grants: StoredGrant[], options: { applied?: string | null; issuerOu?: string } = {}): PolicyDeps {
  const compile = compileSettings(options.issuerOu);
  const policy = options.applied === undefined ? compilePolicy(grants, { serviceArn: ARN, ...compile, maxBytes: Number.MAX_SAFE_INTEGER }).policy : options.applied;
  const partial = {
    compile,
    grants: { allOfService: async () => grants },
    policies: { get: async () => (policy === null ? undefined : { policy, state: 'Active', lastUpdatedAt: undefined }) },
  };
  return partial as unknown as PolicyDeps;
}

const TEAM_A = 'spiffe://example.org/team-a/*';
const LEGACY = 'spiffe://example.org/team-a/legacy/*';
const ORDERS = 'spiffe://example.org/service/orders';

describe('explainDecision', () => {
  const allowTeam = stored({ caller: TEAM_A });
  const denyLegacyPost = stored({ effect: 'Deny', caller: LEGACY, methods: ['POST'] });
  const ordersGet = stored({ caller: ORDERS, methods: ['GET'], pathPrefixes: ['/rates/'] });
  const grants = [allowTeam, denyLegacyPost, ordersGet];

  it('names the allowing statement and the grant it came from', async () => {
    const answer = await explainDecision(depsFor(grants), SERVICE, { caller: 'spiffe://example.org/team-a/api', method: 'POST', path: '/x' });
    expect(answer).toMatchObject({ decision: 'ALLOW', evaluation: 'Allow', statement: { sid: 'AllowPrefixAll', effect: 'Allow' }, policyState: 'in-sync', nearest: [], blockedBy: [] });
    expect(answer.grants.map((g) => g.id)).toEqual([allowTeam.id]);
  });

  it('names the deny that wins, and it as blocking', async () => {
    const answer = await explainDecision(depsFor(grants), SERVICE, { caller: 'spiffe://example.org/team-a/legacy/batch', method: 'POST', path: '/' });
    expect(answer).toMatchObject({ decision: 'DENY', evaluation: 'ExplicitDeny', statement: { effect: 'Deny' }, reason: expect.stringContaining('denies it explicitly') });
    expect(answer.statement?.sid).toMatch(/^DenyPrefix[0-9a-f]{12}$/);
    expect(answer.grants.map((g) => g.id)).toEqual([denyLegacyPost.id]);
    expect(answer.blockedBy.map((g) => g.id)).toEqual([denyLegacyPost.id]);
  });

  it('says no statement matched and proposes the nearest grants: another method and path, a prefix one segment up', async () => {
    const answer = await explainDecision(depsFor(grants), SERVICE, { caller: ORDERS, method: 'DELETE', path: '/rates/1' });
    expect(answer).toMatchObject({ decision: 'DENY', evaluation: 'ImplicitDeny', statement: null, reason: expect.stringContaining('no statement matched') });
    expect(answer.nearest[0]).toEqual({ grantId: ordersGet.id, differs: ['method'], widened: { caller: ORDERS, methods: ['DELETE', 'GET'], pathPrefixes: ['/rates/'] }, segmentsUp: 0 });
    const other = await explainDecision(depsFor(grants), SERVICE, { caller: 'spiffe://example.org/team-b/api', method: 'GET', path: '/' });
    expect(other.nearest[0]).toEqual({ grantId: allowTeam.id, differs: ['caller'], widened: { caller: 'spiffe://example.org/*' }, segmentsUp: 1 });
  });

  it('reports a policy that is not the compilation of the current grants, and a service without policy', async () => {
    const stale = compilePolicy([{ id: 'old', caller: ORDERS }], { serviceArn: ARN, ...compileSettings() }).policy;
    const pending = await explainDecision(depsFor(grants, { applied: stale }), { ...SERVICE, desiredVersion: 4 }, { caller: ORDERS, method: 'GET', path: '/' });
    expect(pending).toMatchObject({ decision: 'ALLOW', policyState: 'pending', statement: { sid: 'AllowExactAll' } });
    const none = await explainDecision(depsFor(grants, { applied: null }), SERVICE, { caller: ORDERS, method: 'GET', path: '/rates/' });
    expect(none).toMatchObject({ decision: 'DENY', evaluation: 'NoPolicy', statement: null });
  });

  it('applies the issuer pin the stage sets, as the session tags would carry it', async () => {
    const answer = await explainDecision(depsFor(grants, { issuerOu: 'trellis-dev' }), SERVICE, { caller: 'spiffe://example.org/team-a/api', method: 'GET', path: '/' });
    expect(answer.decision).toBe('ALLOW');
  });
});

describe('parseDecisionQuery', () => {
  const fields = (query: Record<string, string>): string[] => {
    try {
      parseDecisionQuery(query);
    } catch (error) {
      if (error instanceof TrellisError) return (error.details ?? []).map((d) => `${d.field}:${d.rule}`);
      throw error;
    }
    return [];
  };
  it('defaults method GET and path /', () => {
    expect(parseDecisionQuery({ caller: ORDERS })).toEqual({ caller: ORDERS, method: 'GET', path: '/' });
  });
  it.each([
    [{}, ['caller:required']],
    [{ caller: 'https://example.org/x' }, ['caller:scheme']],
    [{ caller: 'spiffe://example.org' }, ['caller:path-required']],
    [{ caller: ORDERS, method: 'get' }, ['method:method']],
    [{ caller: ORDERS, path: 'rates' }, ['path:path-start']],
    [{ caller: ORDERS, path: '/a?b=1' }, ['path:path-chars']],
    [{ caller: 'x', method: 'FETCH', path: 'y' }, ['caller:scheme', 'method:method', 'path:path-start']],
  ])('refuses %j naming the field and rule', (query, expected) => {
    expect(fields(query as Record<string, string>)).toEqual(expected);
  });
});

// ------------------------------------------------------------------------------------------------
// Property: the answer agrees with the grants' oracle and with @cloud-copilot/iam-simulate.

const CALLERS = ['spiffe://example.org/service/orders', 'spiffe://example.org/team-a/api', 'spiffe://example.org/team-a/legacy/batch', 'spiffe://example.org/team-b/worker'];
const PREFIXES = ['spiffe://example.org/*', TEAM_A, LEGACY, 'spiffe://example.org/team-b/*'];
const PATHS = ['/rates', '/rates/', '/admin/', '/api'];
const REQUEST_PATHS = ['/rates/today', '/ratesheet', '/admin/x', '/api/v1', '/other'];

const shapeArb: fc.Arbitrary<GrantShape> = fc
  .record(
    {
      effect: fc.constantFrom<'Allow' | 'Deny' | undefined>(undefined, undefined, 'Deny'),
      caller: fc.constantFrom(...CALLERS, ...PREFIXES),
      methods: fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }),
      pathPrefixes: fc.uniqueArray(fc.constantFrom(...PATHS), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ['caller'] },
  )
  .map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as GrantShape);

describe('explainDecision: property', () => {
  it('agrees with the oracle and iam-simulate, attributes to matching grants, and its nearest grants would admit the call', async () => {
    // iam-simulate refuses the root path's resource ARN (see policy-compiler.test.ts), so request paths are never "/".
    const seen = new Set<string>();
    const requestArb = fc.record({ caller: fc.constantFrom(...CALLERS), method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'), path: fc.constantFrom(...REQUEST_PATHS) });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(shapeArb, { maxLength: 6, selector: (s) => JSON.stringify(s) }), requestArb, async (shapes, query) => {
        const grants = [...new Map(shapes.map((s) => [stored(s).id, stored(s)])).values()];
        const deps = depsFor(grants);
        const answer = await explainDecision(deps, SERVICE, query);
        const request = { callerUri: query.caller, method: query.method, path: query.path };
        expect(answer.decision === 'ALLOW').toBe(grantsAllow(grants, request));
        seen.add(answer.evaluation);
        const policy = (await deps.policies.get(ARN))?.policy as string;
        const simulated = await iamSimulateDecision(policy, roleSessionRequest({ serviceArn: ARN, roleArn: ROLE, callerUri: query.caller, method: query.method, path: query.path }), ACCOUNT);
        expect(answer.evaluation).toBe(simulated);
        for (const g of answer.grants) expect(grantMatches(g, request)).toBe(true);
        if (answer.decision === 'ALLOW') expect(answer.grants.length).toBeGreaterThan(0);
        for (const miss of answer.nearest) expect(grantMatches({ id: miss.grantId, ...miss.widened }, request)).toBe(true);
        if (answer.decision === 'DENY') {
          expect(answer.nearest).toEqual(nearestAllowing(grants, request));
          expect(answer.blockedBy.length > 0).toBe(grants.some((g) => g.effect === 'Deny' && grantMatches(g, request)));
        }
      }),
      { numRuns: 150 },
    );
    // The runs reached every verdict, not only the easy one.
    expect([...seen].sort()).toEqual(['Allow', 'ExplicitDeny', 'ImplicitDeny']);
  });
});
