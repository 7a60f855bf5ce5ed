/**
 * The Condition element, compiled once per policy and evaluated per request.
 *
 * Semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * and ..._condition-single-vs-multi-valued-context-keys.html):
 * - operators AND together, keys within an operator AND together, values of one key OR together —
 *   except negated operators (StringNotEquals, ArnNotLike, NumericNotEquals, …), which are the
 *   negation of the positive operator over all values ("none of the values matches");
 * - condition key names match case-insensitively; values are case-sensitive except IgnoreCase ops;
 * - a missing key: positive operators are false, negated operators are true, `…IfExists` is true;
 * - Null: `true` holds when the key is missing, `false` when it is present;
 * - `ForAnyValue:` is false for a missing key and true when at least one request value satisfies
 *   the operator; `ForAllValues:` is true for a missing key and true when every request value
 *   does. `IfExists` changes nothing under a set operator (the set operator decides missing keys);
 * - an empty multi-valued key (`[]`) is treated exactly like a missing key (decision: IAM calls an
 *   empty set a "null dataset" for ForAllValues; a Lattice query-string key is never present
 *   with zero values anyway);
 * - a plain (non set-operator) operator on a multi-valued request value (a string array, even of
 *   one element) evaluates to false, positive or negated, with or without IfExists. Decision: it is
 *   what @cloud-copilot/iam-simulate implements ("set operator is required for a multi-value key",
 *   confirmed by AWS at re:Inforce 2025 IAM431), and IAM documents that multi-valued keys require
 *   a set operator. The data plane must pass single-valued keys as plain strings.
 * Policy variables are allowed in String and Arn operator values only (Numeric, Bool and Null
 * values are taken literally, as IAM documents).
 */
import { ArnMatcher, compileArnCondition, splitArn } from './arn-pattern';
import { compileMatcher, hasVariables, literalOf, Matcher, parsePattern, PatternToken, resolvePattern } from './pattern';
import { PolicyDocumentError } from './policy-document-error';
import { ContextLookup, ContextValue, scalarToString } from './request-context';

type Scalar = string | boolean | number;
/** Positive test of one request value against all of a key's policy values (true when any matches). */
type ValueTest = (value: Scalar, lookup: ContextLookup) => boolean;

interface BaseOperator {
  readonly name: string;
  readonly negated: boolean;
  readonly compile: (values: readonly string[], variables: boolean) => ValueTest;
}

function stringTest(wildcards: boolean, ignoreCase: boolean) {
  return (values: readonly string[], variables: boolean): ValueTest => {
    const literals = new Set<string>();
    const matchers: Matcher[] = [];
    const dynamic: PatternToken[][] = [];
    for (const value of values) {
      const tokens = parsePattern(value, { wildcards, variables });
      const literal = literalOf(tokens);
      if (literal !== undefined) literals.add(ignoreCase ? literal.toLowerCase() : literal);
      else if (hasVariables(tokens)) dynamic.push(tokens);
      else matchers.push(compileMatcher(tokens, ignoreCase));
    }
    return (value, lookup) => {
      const raw = scalarToString(value);
      const input = ignoreCase ? raw.toLowerCase() : raw;
      if (literals.has(input)) return true;
      for (const matcher of matchers) if (matcher.test(input)) return true;
      for (const tokens of dynamic) {
        const resolved = resolvePattern(tokens, lookup);
        if (resolved !== undefined && compileMatcher(resolved, ignoreCase).test(input)) return true;
      }
      return false;
    };
  };
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

function toNumber(value: Scalar): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !NUMBER.test(value)) return undefined;
  return Number(value);
}

function numericTest(compare: (request: number, policy: number) => boolean) {
  return (values: readonly string[]): ValueTest => {
    const numbers = values.map((v) => toNumber(v)).filter((n): n is number => n !== undefined);
    return (value) => {
      const n = toNumber(value);
      return n !== undefined && numbers.some((p) => compare(n, p));
    };
  };
}

function boolTest(values: readonly string[]): ValueTest {
  const wanted = new Set(values.map((v) => v.toLowerCase()).filter((v) => v === 'true' || v === 'false'));
  return (value) => {
    const text = scalarToString(value).toLowerCase();
    return (text === 'true' || text === 'false') && wanted.has(text);
  };
}

function arnTest(values: readonly string[], variables: boolean): ValueTest {
  const matchers: ArnMatcher[] = values.map((v) => compileArnCondition(v, variables));
  return (value, lookup) => {
    if (typeof value !== 'string') return false;
    const arn = splitArn(value);
    return arn !== undefined && matchers.some((m) => m.test(arn, lookup));
  };
}

const op = (name: string, negated: boolean, compile: BaseOperator['compile']): BaseOperator => ({ name, negated, compile });

const BASE_OPERATORS: readonly BaseOperator[] = [
  op('StringEquals', false, stringTest(false, false)),
  op('StringNotEquals', true, stringTest(false, false)),
  op('StringEqualsIgnoreCase', false, stringTest(false, true)),
  op('StringNotEqualsIgnoreCase', true, stringTest(false, true)),
  op('StringLike', false, stringTest(true, false)),
  op('StringNotLike', true, stringTest(true, false)),
  op('NumericEquals', false, numericTest((r, p) => r === p)),
  op('NumericNotEquals', true, numericTest((r, p) => r === p)),
  op('NumericLessThan', false, numericTest((r, p) => r < p)),
  op('NumericLessThanEquals', false, numericTest((r, p) => r <= p)),
  op('NumericGreaterThan', false, numericTest((r, p) => r > p)),
  op('NumericGreaterThanEquals', false, numericTest((r, p) => r >= p)),
  op('Bool', false, boolTest),
  op('ArnEquals', false, arnTest),
  op('ArnLike', false, arnTest),
  op('ArnNotEquals', true, arnTest),
  op('ArnNotLike', true, arnTest),
];

const BY_NAME = new Map(BASE_OPERATORS.map((o) => [o.name.toLowerCase(), o]));
/** IAM operators this evaluator refuses rather than guesses at (no Lattice use for them here). */
const UNSUPPORTED = /^(date|ipaddress|notipaddress|binaryequals)/i;

type SetOperator = 'any' | 'all' | undefined;

interface ParsedOperator {
  readonly set: SetOperator;
  readonly ifExists: boolean;
  /** undefined for Null */
  readonly base: BaseOperator | undefined;
}

export function parseOperator(name: string, path: string): ParsedOperator {
  let rest = name;
  let set: SetOperator;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const qualifier = rest.slice(0, colon).toLowerCase();
    if (qualifier === 'foranyvalue') set = 'any';
    else if (qualifier === 'forallvalues') set = 'all';
    else throw new PolicyDocumentError(path, `unknown set operator "${rest.slice(0, colon)}" (ForAnyValue or ForAllValues)`);
    rest = rest.slice(colon + 1);
  }
  if (rest.toLowerCase() === 'null') return { set, ifExists: false, base: undefined };
  let ifExists = false;
  if (rest.toLowerCase().endsWith('ifexists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
    if (rest.toLowerCase() === 'null') throw new PolicyDocumentError(path, 'Null has no IfExists form');
  }
  const base = BY_NAME.get(rest.toLowerCase());
  if (base === undefined) {
    if (UNSUPPORTED.test(rest)) throw new PolicyDocumentError(path, `condition operator "${name}" is not supported by this evaluator`);
    throw new PolicyDocumentError(path, `unknown condition operator "${name}"`);
  }
  return { set, ifExists, base };
}

export interface CompiledCondition {
  readonly operator: string;
  readonly key: string;
  evaluate(lookup: ContextLookup): boolean;
}

function conditionValues(raw: unknown, path: string): string[] {
  const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  return list.map((v, index) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new PolicyDocumentError(Array.isArray(raw) ? `${path}[${index}]` : path, 'a condition value is a string, number or boolean');
  });
}

const isMissing = (value: ContextValue | undefined): value is undefined =>
  value === undefined || (Array.isArray(value) && value.length === 0);

function compileOne(operatorName: string, parsed: ParsedOperator, key: string, values: string[], variables: boolean): CompiledCondition {
  const keyLower = key.toLowerCase();
  const { set, ifExists, base } = parsed;
  if (base === undefined) {
    const wanted = new Set(values.map((v) => v.toLowerCase()));
    return {
      operator: operatorName,
      key,
      evaluate: (lookup) => wanted.has(isMissing(lookup.get(key, keyLower)) ? 'true' : 'false'),
    };
  }
  const positive = base.compile(values, variables);
  const negated = base.negated;
  const satisfied = (value: Scalar, lookup: ContextLookup): boolean => positive(value, lookup) !== negated;
  return {
    operator: operatorName,
    key,
    evaluate(lookup) {
      const value = lookup.get(key, keyLower);
      if (isMissing(value)) return set === 'all' ? true : set === 'any' ? false : ifExists || negated;
      if (set === undefined) return Array.isArray(value) ? false : satisfied(value as Scalar, lookup);
      const list: readonly Scalar[] = Array.isArray(value) ? (value as readonly string[]) : [value as Scalar];
      return set === 'any' ? list.some((v) => satisfied(v, lookup)) : list.every((v) => satisfied(v, lookup));
    },
  };
}

/** Compiles a statement's Condition element; throws PolicyDocumentError on anything it cannot interpret. */
export function compileConditions(block: unknown, path: string, variables: boolean): CompiledCondition[] {
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw new PolicyDocumentError(path, 'Condition is an object of operators');
  }
  const out: CompiledCondition[] = [];
  for (const [operatorName, keys] of Object.entries(block as Record<string, unknown>)) {
    const operatorPath = `${path}.${operatorName}`;
    const parsed = parseOperator(operatorName, operatorPath);
    if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
      throw new PolicyDocumentError(operatorPath, 'an operator maps condition keys to values');
    }
    for (const [key, raw] of Object.entries(keys as Record<string, unknown>)) {
      out.push(compileOne(operatorName, parsed, key, conditionValues(raw, `${operatorPath}.${key}`), variables));
    }
  }
  return out;
}
