import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessChanges } from '../../shared/policy/access-changes';
import { grantMatches, grantsAllow, type Grant } from '../../shared/policy/compiler';

const TEAM_A = 'spiffe://example.org/team-a/*';
const LEGACY = 'spiffe://example.org/team-a/legacy/*';
const ORDERS = 'spiffe://example.org/service/orders';

describe('accessChanges', () => {
  it('lists what a deny takes away from a broader allow, per caller, method and path', () => {
    const allow: Grant = { id: 'a', caller: TEAM_A };
    const deny: Grant = { id: 'd', effect: 'Deny', caller: LEGACY, methods: ['POST'] };
    expect(accessChanges([allow], [allow, deny], deny)).toEqual({
      changes: [{ caller: LEGACY, method: 'POST', pathPrefix: '*', before: 'ALLOW', after: 'DENY' }],
      truncated: false,
    });
  });

  it('lists the exact callers and path refinements under a new prefix grant separately', () => {
    const existing: Grant = { id: 'o', caller: 'spiffe://example.org/service/orders', methods: ['GET'], pathPrefixes: ['/rates/today'] };
    const prefix: Grant = { id: 'p', caller: 'spiffe://example.org/service/*', methods: ['GET'], pathPrefixes: ['/rates/'] };
    const { changes } = accessChanges([existing], [existing, prefix], prefix);
    expect(changes).toEqual([
      { caller: 'spiffe://example.org/service/*', method: 'GET', pathPrefix: '/rates/', before: 'DENY', after: 'ALLOW' },
      { caller: 'spiffe://example.org/service/*', method: 'GET', pathPrefix: '/rates/today', before: 'DENY', after: 'ALLOW' },
      // orders already had /rates/today, not the rest of /rates/
      { caller: ORDERS, method: 'GET', pathPrefix: '/rates/', before: 'DENY', after: 'ALLOW' },
    ]);
  });

  it('lists nothing for a grant another grant already covers', () => {
    const all: Grant = { id: 'all', caller: ORDERS };
    const get: Grant = { id: 'get', caller: ORDERS, methods: ['GET'] };
    expect(accessChanges([all], [all, get], get).changes).toEqual([]);
  });
});

// Property: for concrete requests, the verdict changes only where the changed grant matches, and
// whenever some request's verdict changes the preview lists a change.
const CALLERS = [ORDERS, 'spiffe://example.org/service/reviews', 'spiffe://example.org/team-a/api', 'spiffe://example.org/team-a/legacy/x'];
const PREFIXES = ['spiffe://example.org/*', TEAM_A, LEGACY, 'spiffe://example.org/service/*'];
const grantArb: fc.Arbitrary<Omit<Grant, 'id'>> = fc
  .record(
    {
      effect: fc.constantFrom<'Allow' | 'Deny' | undefined>(undefined, 'Deny'),
      caller: fc.constantFrom(...CALLERS, ...PREFIXES),
      methods: fc.subarray(['GET', 'POST', 'PUT'], { minLength: 1 }),
      pathPrefixes: fc.uniqueArray(fc.constantFrom('/', '/a', '/a/', '/b'), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ['caller'] },
  )
  .map((g) => Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined)) as Omit<Grant, 'id'>);

describe('accessChanges: property', () => {
  it('is complete and sound on concrete requests', () => {
    // An "other" ID under every prefix, and an unlisted method, so every cell the preview can name has a concrete witness.
    const requests = CALLERS.concat('spiffe://example.org/other/x', 'spiffe://example.org/team-a/legacy/deep/y', 'spiffe://example.org/service/zz', 'spiffe://example.org/team-a/zz').flatMap((callerUri) =>
      ['GET', 'POST', 'PUT', 'DELETE'].flatMap((method) => ['/', '/a', '/a/x', '/ab', '/b/c', '/z'].map((path) => ({ callerUri, method, path }))),
    );
    fc.assert(
      fc.property(fc.array(grantArb, { maxLength: 6 }), grantArb, fc.boolean(), (shapes, changedShape, removal) => {
        const others = shapes.map((g, i) => ({ id: `g${i}`, ...g }));
        const changed: Grant = { id: 'changed', ...changedShape };
        const before = removal ? [...others, changed] : others;
        const after = removal ? others : [...others, changed];
        const { changes } = accessChanges(before, after, changed);
        const flipped = requests.filter((r) => grantsAllow(before, r) !== grantsAllow(after, r));
        for (const r of flipped) expect(grantMatches(changed, r)).toBe(true);
        expect(changes.length > 0).toBe(flipped.length > 0);
        for (const c of changes) {
          const r = { callerUri: c.caller, method: c.method, path: c.pathPrefix };
          expect([grantsAllow(before, r), grantsAllow(after, r)]).toEqual([c.before === 'ALLOW', c.after === 'ALLOW']);
        }
      }),
      { numRuns: 500 },
    );
  });
});
