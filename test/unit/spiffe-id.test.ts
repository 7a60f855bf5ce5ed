import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseSpiffeId, parseSpiffeIdPrefix, parseWorkloadId, type SpiffeIdRule } from '../../shared/spiffe/spiffe-id';

describe('parseSpiffeId', () => {
  it.each([
    'spiffe://example.org',
    'spiffe://example.org/service/orders',
    'spiffe://trust_domain-1.example/a.b/c-d/e_f/G',
    'spiffe://example.org/...a/..b',
    `spiffe://example.org/${'a'.repeat(2048 - 'spiffe://example.org/'.length)}`,
  ])('accepts %s', (id) => {
    const parsed = parseSpiffeId(id);
    expect(parsed.ok).toBe(true);
  });

  it('splits trust domain, path and segments', () => {
    expect(parseSpiffeId('spiffe://example.org/service/orders')).toEqual({
      ok: true,
      id: { uri: 'spiffe://example.org/service/orders', trustDomain: 'example.org', path: '/service/orders', segments: ['service', 'orders'] },
    });
  });

  it.each<[string, SpiffeIdRule]>([
    ['', 'scheme'],
    ['example.org/orders', 'scheme'],
    ['https://example.org/orders', 'scheme'],
    ['SPIFFE://example.org/orders', 'scheme'],
    ['spiffe:/example.org/orders', 'scheme'],
    ['spiffe://', 'trust-domain-missing'],
    ['spiffe:///orders', 'trust-domain-missing'],
    ['spiffe://Example.org/orders', 'trust-domain-chars'],
    ['spiffe://exa mple.org/orders', 'trust-domain-chars'],
    ['spiffe://example.org:8080/orders', 'port'],
    ['spiffe://user@example.org/orders', 'userinfo'],
    ['spiffe://user:pw@example.org/orders', 'userinfo'],
    ['spiffe://example.org/orders?x=1', 'query'],
    ['spiffe://example.org/orders#frag', 'fragment'],
    ['spiffe://example.org/ord%65rs', 'percent-encoding'],
    ['spiffe://example.org//orders', 'empty-segment'],
    ['spiffe://example.org/a//b', 'empty-segment'],
    ['spiffe://example.org/./orders', 'dot-segment'],
    ['spiffe://example.org/a/../b', 'dot-segment'],
    ['spiffe://example.org/orders/', 'trailing-slash'],
    ['spiffe://example.org/', 'trailing-slash'],
    ['spiffe://example.org/ord*rs', 'path-chars'],
    ['spiffe://example.org/orders:1', 'path-chars'],
    ['spiffe://example.org/ördérs', 'path-chars'],
    ['spiffe://example.org/${aws:username}', 'path-chars'],
    [`spiffe://example.org/${'a'.repeat(2048)}`, 'max-length'],
  ])('refuses %j naming the rule %s', (id, rule) => {
    const parsed = parseSpiffeId(id);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.rule).toBe(rule);
      expect(parsed.message.length).toBeGreaterThan(10);
    }
  });

  it('never throws, and everything it accepts is made only of allowed characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (tail) => {
        const parsed = parseSpiffeId(`spiffe://${tail}`);
        if (parsed.ok) expect(parsed.id.uri).toMatch(/^spiffe:\/\/[a-z0-9._-]+(\/[a-zA-Z0-9._-]+)*$/);
      }),
    );
  });
});

describe('parseWorkloadId', () => {
  it('requires the stage trust domain, a path and at most 253 characters', () => {
    expect(parseWorkloadId('spiffe://example.org/service/orders', 'example.org').ok).toBe(true);
    const cases: [string, SpiffeIdRule][] = [
      ['spiffe://other.org/service/orders', 'trust-domain-mismatch'],
      ['spiffe://example.org', 'path-required'],
      [`spiffe://example.org/${'a'.repeat(233)}`, 'san-max-length'],
    ];
    for (const [id, rule] of cases) {
      const parsed = parseWorkloadId(id, 'example.org');
      expect(parsed).toMatchObject({ ok: false, rule });
    }
    expect(parseWorkloadId(`spiffe://example.org/${'a'.repeat(232)}`, 'example.org').ok).toBe(true);
    const tooLong = parseWorkloadId(`spiffe://example.org/${'a'.repeat(233)}`, 'example.org');
    expect(!tooLong.ok && tooLong.message).toContain('ACM Private CA');
  });
});

describe('parseSpiffeIdPrefix', () => {
  it('accepts a path prefix and the whole trust domain, and nothing with a second wildcard', () => {
    expect(parseSpiffeIdPrefix('spiffe://example.org/service/*', 'example.org')).toEqual({
      ok: true,
      prefix: { pattern: 'spiffe://example.org/service/*', trustDomain: 'example.org', literal: 'spiffe://example.org/service/' },
    });
    expect(parseSpiffeIdPrefix('spiffe://example.org/*', 'example.org').ok).toBe(true);
    expect(parseSpiffeIdPrefix('spiffe://example.org/service', 'example.org')).toMatchObject({ ok: false, rule: 'prefix-form' });
    expect(parseSpiffeIdPrefix('spiffe://example.org/se*/*', 'example.org')).toMatchObject({ ok: false, rule: 'path-chars' });
    expect(parseSpiffeIdPrefix('spiffe://example.org/a?/*', 'example.org')).toMatchObject({ ok: false, rule: 'query' });
    expect(parseSpiffeIdPrefix('spiffe://other.org/*', 'example.org')).toMatchObject({ ok: false, rule: 'trust-domain-mismatch' });
  });
});
