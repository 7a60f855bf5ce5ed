/**
 * IAM string patterns: the `*` / `?` wildcards and the `${key}` policy variables found in
 * Resource elements and condition values.
 *
 * Hand-written rather than translated to RegExp: a glob turned into a backtracking regex
 * (`.*a.*a.*a…`) can take exponential time, and this code is on the data-plane hot path. The
 * matcher below is the classic single-backtrack-point wildcard algorithm, O(pattern × input) in
 * the worst case and linear in practice; literal and `prefix*` patterns take a shortcut.
 *
 * Policy variables (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
 * - only interpreted when the policy's Version is 2012-10-17 (the caller decides);
 * - `${*}`, `${?}`, `${$}` stand for a literal `*`, `?`, `$`;
 * - `${key, 'default'}` uses `default` when the key has no value;
 * - a key that is missing (or multi-valued) and has no default makes the value "effectively null":
 *   it matches nothing (so a negated operator such as StringNotEquals matches, as AWS documents);
 * - a substituted value is literal text: a `*` inside a principal tag is not a wildcard (decision;
 *   AWS does not say — literal is the fail-safe reading).
 */
import { ContextLookup, scalarToString } from './request-context';

export type PatternToken =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'one' }
  | { readonly kind: 'var'; readonly name: string; readonly nameLower: string; readonly fallback: string | undefined };

export interface PatternOptions {
  /** Interpret `*` and `?` (StringLike, ArnLike, Resource, Action); otherwise they are literal. */
  readonly wildcards: boolean;
  /** Interpret `${…}` (policy Version 2012-10-17 only). */
  readonly variables: boolean;
}

const STAR_TOKEN: PatternToken = { kind: 'star' };
const ONE_TOKEN: PatternToken = { kind: 'one' };
const DEFAULT_VALUE = /^([\s\S]*?),\s*'([\s\S]*)'$/;

function variableToken(inner: string): PatternToken {
  const withDefault = DEFAULT_VALUE.exec(inner);
  const name = (withDefault ? (withDefault[1] ?? '') : inner).trim();
  return { kind: 'var', name, nameLower: name.toLowerCase(), fallback: withDefault ? withDefault[2] : undefined };
}

/** Splits a policy string into literal text, wildcards and variables. */
export function parsePattern(value: string, options: PatternOptions): PatternToken[] {
  const tokens: PatternToken[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') tokens.push({ kind: 'text', text });
    text = '';
  };
  let i = 0;
  while (i < value.length) {
    const ch = value[i] as string;
    if (options.variables && ch === '$' && value[i + 1] === '{') {
      const end = value.indexOf('}', i + 2);
      if (end !== -1) {
        const inner = value.slice(i + 2, end);
        if (inner === '*' || inner === '?' || inner === '$') {
          text += inner;
        } else {
          flush();
          tokens.push(variableToken(inner));
        }
        i = end + 1;
        continue;
      }
    }
    if (options.wildcards && (ch === '*' || ch === '?')) {
      flush();
      tokens.push(ch === '*' ? STAR_TOKEN : ONE_TOKEN);
    } else {
      text += ch;
    }
    i += 1;
  }
  flush();
  return tokens;
}

export const hasVariables = (tokens: readonly PatternToken[]): boolean => tokens.some((t) => t.kind === 'var');

/** The value a policy variable stands for, or undefined when it is "effectively null". */
function variableValue(token: Extract<PatternToken, { kind: 'var' }>, lookup: ContextLookup): string | undefined {
  const value = lookup.get(token.name, token.nameLower);
  // Multi-valued keys cannot be used as policy variables (IAM docs, "single-valued vs. multivalued").
  if (value === undefined || Array.isArray(value)) return token.fallback;
  return scalarToString(value as string | boolean | number);
}

/** Substitutes variables; undefined when one cannot be resolved (the value then matches nothing). */
export function resolvePattern(tokens: readonly PatternToken[], lookup: ContextLookup): PatternToken[] | undefined {
  const out: PatternToken[] = [];
  for (const token of tokens) {
    if (token.kind !== 'var') {
      out.push(token);
      continue;
    }
    const value = variableValue(token, lookup);
    if (value === undefined) return undefined;
    if (value !== '') out.push({ kind: 'text', text: value });
  }
  return out;
}

export interface Matcher {
  test(input: string): boolean;
}

const STAR = -1;
const ONE = -2;

function wildcardMatch(pattern: Int32Array, input: string): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < input.length) {
    const c = p < pattern.length ? (pattern[p] as number) : undefined;
    if (c !== undefined && (c === ONE || c === input.charCodeAt(i))) {
      p += 1;
      i += 1;
    } else if (c === STAR) {
      starP = p;
      starI = i;
      p += 1;
    } else if (starP !== -1) {
      p = starP + 1;
      starI += 1;
      i = starI;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === STAR) p += 1;
  return p === pattern.length;
}

const ALWAYS: Matcher = { test: () => true };

/**
 * Compiles variable-free tokens. With `lowerCase`, literal text is lower-cased (the caller
 * lower-cases the input too): how the IgnoreCase operators and Action matching work.
 */
export function compileMatcher(tokens: readonly PatternToken[], lowerCase = false): Matcher {
  const parts: PatternToken[] = [];
  for (const token of tokens) {
    if (token.kind === 'var') throw new Error('compileMatcher: resolve policy variables first');
    const last = parts[parts.length - 1];
    if (token.kind === 'text' && last?.kind === 'text') {
      parts[parts.length - 1] = { kind: 'text', text: last.text + token.text };
    } else if (!(token.kind === 'star' && last?.kind === 'star')) {
      parts.push(token);
    }
  }
  const fold = (text: string): string => (lowerCase ? text.toLowerCase() : text);
  const [first, second] = parts;
  if (parts.length === 0) return { test: (input) => input === '' };
  if (parts.length === 1 && first?.kind === 'text') {
    const literal = fold(first.text);
    return { test: (input) => input === literal };
  }
  if (parts.length === 1 && first?.kind === 'star') return ALWAYS;
  if (parts.length === 2 && first?.kind === 'text' && second?.kind === 'star') {
    const prefix = fold(first.text);
    return { test: (input) => input.startsWith(prefix) };
  }
  if (parts.length === 2 && first?.kind === 'star' && second?.kind === 'text') {
    const suffix = fold(second.text);
    return { test: (input) => input.endsWith(suffix) };
  }
  const codes: number[] = [];
  for (const part of parts) {
    if (part.kind === 'star') codes.push(STAR);
    else if (part.kind === 'one') codes.push(ONE);
    else if (part.kind === 'text') {
      const text = fold(part.text);
      for (let k = 0; k < text.length; k += 1) codes.push(text.charCodeAt(k));
    }
  }
  const pattern = Int32Array.from(codes);
  return { test: (input) => wildcardMatch(pattern, input) };
}

/** Literal text of variable-free tokens without wildcards, or undefined when there is a wildcard. */
export function literalOf(tokens: readonly PatternToken[]): string | undefined {
  let text = '';
  for (const token of tokens) {
    if (token.kind !== 'text') return undefined;
    text += token.text;
  }
  return text;
}
