/**
 * ARN patterns, matched component by component as IAM does for the ArnEquals/ArnLike operators and
 * for the Resource element: `arn:partition:service:region:account:resource`, split at the first
 * five colons. Each component is matched on its own (a wildcard in `region` cannot swallow the
 * `:account` that follows); in the last component, the resource, `*` and `?` match any character,
 * `/` and `:` included. Matching is case-sensitive (IAM: "case-sensitive matching of the ARN").
 */
import { compileMatcher, hasVariables, Matcher, parsePattern, PatternToken, resolvePattern } from './pattern';
import { ContextLookup } from './request-context';

const ARN_COMPONENTS = 6;

/** Splits a request ARN into its six components; undefined when it is not an ARN. */
export function splitArn(arn: string): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  for (let k = 0; k < ARN_COMPONENTS - 1; k += 1) {
    const colon = arn.indexOf(':', start);
    if (colon === -1) return undefined;
    out.push(arn.slice(start, colon));
    start = colon + 1;
  }
  out.push(arn.slice(start));
  return out;
}

/** Splits pattern tokens at the literal colons that separate ARN components (never inside `${…}`). */
function splitTokens(tokens: readonly PatternToken[]): PatternToken[][] {
  const components: PatternToken[][] = [[]];
  for (const token of tokens) {
    const current = components[components.length - 1] as PatternToken[];
    if (token.kind !== 'text' || components.length === ARN_COMPONENTS) {
      current.push(token);
      continue;
    }
    const pieces = token.text.split(':');
    pieces.forEach((piece, index) => {
      if (index > 0) {
        if (components.length < ARN_COMPONENTS) {
          components.push([]);
        } else {
          (components[components.length - 1] as PatternToken[]).push({ kind: 'text', text: ':' });
        }
      }
      if (piece !== '') (components[components.length - 1] as PatternToken[]).push({ kind: 'text', text: piece });
    });
  }
  return components;
}

export interface ArnMatcher {
  /** Matches a request ARN already split by {@link splitArn}. */
  test(requestArn: readonly string[], lookup: ContextLookup): boolean;
}

const NEVER: ArnMatcher = { test: () => false };

function fromComponents(components: PatternToken[][]): ArnMatcher {
  if (components.some(hasVariables)) {
    return {
      test(requestArn, lookup) {
        for (let k = 0; k < ARN_COMPONENTS; k += 1) {
          const resolved = resolvePattern(components[k] as PatternToken[], lookup);
          if (resolved === undefined || !compileMatcher(resolved).test(requestArn[k] as string)) return false;
        }
        return true;
      },
    };
  }
  const matchers: Matcher[] = components.map((component) => compileMatcher(component));
  return {
    test(requestArn) {
      for (let k = 0; k < ARN_COMPONENTS; k += 1) {
        if (!(matchers[k] as Matcher).test(requestArn[k] as string)) return false;
      }
      return true;
    },
  };
}

/**
 * An ArnEquals/ArnLike condition value (the two operators behave the same: both take wildcards).
 * A value with fewer than six components is not an ARN and matches nothing.
 */
export function compileArnCondition(value: string, variables: boolean): ArnMatcher {
  const components = splitTokens(parsePattern(value, { wildcards: true, variables }));
  return components.length === ARN_COMPONENTS ? fromComponents(components) : NEVER;
}

/**
 * A Resource/NotResource element entry. `*` matches every resource. An ARN with fewer than six
 * components that contains a wildcard has its missing components filled with `*` (IAM: a `*` at
 * the end of a segment may expand past the colons); without a wildcard it matches nothing.
 */
export function compileResourcePattern(value: string, variables: boolean): ArnMatcher | 'all' {
  if (value === '*') return 'all';
  const tokens = parsePattern(value, { wildcards: true, variables });
  const components = splitTokens(tokens);
  if (components.length < ARN_COMPONENTS) {
    if (!tokens.some((t) => t.kind === 'star')) return NEVER;
    while (components.length < ARN_COMPONENTS) components.push([{ kind: 'star' }]);
  }
  return fromComponents(components);
}
