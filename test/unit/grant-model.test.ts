import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../shared/policy/compiler';
import { grantIdFor, toPublicGrant } from '../../shared/grants/model';

const ORDERS = 'spiffe://example.org/service/orders';

describe('grantIdFor', () => {
  it('keeps the id an allow had before effects existed (stored grants stay addressable, duplicates stay 409)', () => {
    // The derivation as it was: sha256 of the canonical [service, caller, methods, pathPrefixes].
    const before = `gr-billing-${createHash('sha256').update(canonicalJson(['billing', ORDERS, ['GET'], null])).digest('hex').slice(0, 32)}`;
    expect(grantIdFor({ service: 'billing', caller: ORDERS, methods: ['GET'] })).toBe(before);
    expect(grantIdFor({ service: 'billing', effect: 'Allow', caller: ORDERS, methods: ['GET'] })).toBe(before);
  });

  it('gives a deny its own id, the same for the same deny written differently', () => {
    const allow = grantIdFor({ service: 'billing', caller: ORDERS, methods: ['GET', 'POST'] });
    const deny = grantIdFor({ service: 'billing', effect: 'Deny', caller: ORDERS, methods: ['GET', 'POST'] });
    expect(deny).toMatch(/^gr-billing-[0-9a-f]{32}$/);
    expect(deny).not.toBe(allow);
    expect(grantIdFor({ service: 'billing', effect: 'Deny', caller: ORDERS, methods: ['POST', 'GET', 'GET'] })).toBe(deny);
  });
});

describe('toPublicGrant', () => {
  it('reads a grant stored before effects existed as an Allow', () => {
    expect(toPublicGrant({ id: 'gr-billing-x', service: 'billing', caller: ORDERS, kind: 'exact', createdAt: '2025-01-01T00:00:00.000Z' })).toEqual({
      id: 'gr-billing-x',
      service: 'billing',
      caller: ORDERS,
      kind: 'exact',
      effect: 'Allow',
      createdAt: '2025-01-01T00:00:00.000Z',
    });
  });
});
