import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitArn } from '../../shared/policy/arn-pattern';
import { compileMatcher, parsePattern, resolvePattern } from '../../shared/policy/pattern';
import { ContextLookup } from '../../shared/policy/request-context';

/** Independent oracle: the IAM glob as an anchored regular expression. */
const regexOf = (pattern: string): RegExp =>
  new RegExp(`^${[...pattern].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('')}$`);

const glob = (pattern: string) => compileMatcher(parsePattern(pattern, { wildcards: true, variables: false }));

describe('compileMatcher', () => {
  it('agrees with a regular-expression oracle on random patterns and inputs', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', ':');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.oneof(alphabet, fc.constantFrom('*', '?')), maxLength: 8 }),
        fc.string({ unit: alphabet, maxLength: 10 }),
        (pattern, input) => {
          expect(glob(pattern).test(input)).toBe(regexOf(pattern).test(input));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('stays fast on patterns that make backtracking regexes explode', () => {
    const pattern = `${'*a'.repeat(30)}*b`;
    const input = 'a'.repeat(5000);
    const started = performance.now();
    expect(glob(pattern).test(input)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('treats wildcards as text when asked to', () => {
    const literal = compileMatcher(parsePattern('a*?', { wildcards: false, variables: false }));
    expect(literal.test('a*?')).toBe(true);
    expect(literal.test('abc')).toBe(false);
  });

  it('lower-cases literal text for case-insensitive matching', () => {
    expect(compileMatcher(parsePattern('VPC-Lattice-Svcs:In*', { wildcards: true, variables: false }), true).test('vpc-lattice-svcs:invoke')).toBe(true);
  });
});

describe('parsePattern / resolvePattern', () => {
  const lookup = new ContextLookup({ 'aws:PrincipalTag/team': 'blue', 'aws:TagKeys': ['a', 'b'] });

  it('substitutes variables, escapes and defaults', () => {
    const tokens = parsePattern("${aws:principaltag/TEAM}-${*}${?}${$}-${aws:PrincipalTag/none, 'dflt'}-*", { wildcards: true, variables: true });
    expect(resolvePattern(tokens, lookup)).toEqual([
      { kind: 'text', text: 'blue' },
      { kind: 'text', text: '-*?$-' },
      { kind: 'text', text: 'dflt' },
      { kind: 'text', text: '-' },
      { kind: 'star' },
    ]);
  });

  it('cannot resolve a missing or multi-valued key without a default', () => {
    expect(resolvePattern(parsePattern('${aws:PrincipalTag/none}', { wildcards: true, variables: true }), lookup)).toBeUndefined();
    expect(resolvePattern(parsePattern('${aws:TagKeys}', { wildcards: true, variables: true }), lookup)).toBeUndefined();
  });

  it('keeps ${…} as text when variables are off, and an unclosed ${ as text', () => {
    expect(parsePattern('${aws:username}', { wildcards: true, variables: false })).toEqual([{ kind: 'text', text: '${aws:username}' }]);
    expect(parsePattern('a${b', { wildcards: false, variables: true })).toEqual([{ kind: 'text', text: 'a${b' }]);
  });
});

describe('splitArn', () => {
  it('splits at the first five colons only', () => {
    expect(splitArn('arn:aws:s3:::bucket/a:b')).toEqual(['arn', 'aws', 's3', '', '', 'bucket/a:b']);
    expect(splitArn('arn:aws:iam::111122223333')).toBeUndefined();
  });
});
