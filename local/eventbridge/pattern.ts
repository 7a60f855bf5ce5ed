/**
 * EventBridge event patterns (content filtering) for the local bus.
 *
 * Semantics follow the EventBridge user guide ("Creating event patterns", "Comparison operators",
 * "Content filtering", "Arrays", "Null values and empty strings"), and, where the guide leaves a corner open,
 * aws/event-ruler — the matcher EventBridge itself is built on (its README and JsonRuleCompiler).
 *
 * Why this is written here instead of taken from npm: the plugin Trellis replaces,
 * serverless-offline-aws-eventbridge, decides which rules see an event with a substring test of the bus name
 * and implements none of the content-filter operators below; event-ruler is Java, and no npm port of it is
 * well kept. So: a small structural matcher, compiled once per rule, validated as PutRule validates.
 *
 * Matching, in short:
 * - Every field named in the pattern must match (AND); the values listed for a field are alternatives (OR);
 *   `$or: [{...}, {...}]` (two or more objects) ORs whole sub-patterns, at any level.
 * - A field absent from the event never matches, except `{"exists": false}`.
 * - Event arrays: a leaf matches when any element matches. Objects inside event arrays are matched
 *   element by element ("array-consistent", as event-ruler's rulesForJSONEvent: two fields of one pattern object
 *   must come from the same array element).
 * - Types are strict: `"5"` never matches `5`; `""` never matches `null`. prefix/suffix/equals-ignore-case/
 *   wildcard/cidr only match strings; numeric only matches numbers. Numbers compare numerically, so the pattern
 *   value 300 matches 3.0e2 (event-ruler adds a numeric-equality matcher for every number in a pattern).
 * - A string pattern value that is an IP address matches the same address in any notation (event-ruler turns
 *   such strings into a one-address range): "::1" matches "0:0:0:0:0:0:0:1".
 * - anything-but excludes only values of its own type: `{"anything-but": 123}` matches "abc", and
 *   `{"anything-but": "x"}` matches 5 (event-ruler fails an anything-but only when the type agrees).
 * - exists applies to leaves: a field whose value is an object (or an empty array) does not "exist";
 *   `null` does.
 *
 * DECISIONS where neither source is explicit:
 * - Numbers compare as IEEE doubles (event-ruler keeps 6 decimal digits; its ±5e9 range is not enforced here).
 * - `{"exists": false}` under an array of objects is decided per element, like every other condition.
 */
import { BlockList, isIP } from 'node:net';

/** A scalar JSON value: what a pattern compares against. */
type Leaf = string | number | boolean | null;

/** One alternative in a field's list: either a presence test or a test on each leaf value. */
type Condition = { kind: 'exists'; exists: boolean } | { kind: 'value'; test: (value: Leaf) => boolean };

interface ObjectNode {
  fields: { key: string; node: FieldNode }[];
  /** Each group is one `$or`: at least one of its branches must match. */
  ors: ObjectNode[][];
}

type FieldNode = { kind: 'object'; node: ObjectNode } | { kind: 'leaf'; conditions: Condition[] };

/** What PutRule answers for a bad pattern (InvalidEventPatternException), as an Error. */
export class EventPatternError extends Error {
  readonly path: string;

  constructor(reason: string, path: string) {
    super(`Event pattern is not valid. Reason: ${reason}${path === '' ? '' : ` (at ${path})`}`);
    this.name = 'InvalidEventPatternException';
    this.path = path;
  }
}

export interface CompiledPattern {
  matches(event: unknown): boolean;
}

/** Match-expression names; event-ruler refuses them as field names inside `$or`. */
const OPERATORS = new Set([
  'prefix',
  'suffix',
  'equals-ignore-case',
  'anything-but',
  'numeric',
  'exists',
  'cidr',
  'wildcard',
]);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const show = (value: unknown): string => (value === undefined ? 'undefined' : JSON.stringify(value));

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

// ---------------------------------------------------------------------------------------------------------------
// Compilation (and validation)

/** Compiles a pattern (object, or JSON text as PutRule takes it); throws EventPatternError when it is invalid. */
export function compilePattern(pattern: unknown): CompiledPattern {
  let raw = pattern;
  if (typeof pattern === 'string') {
    try {
      raw = JSON.parse(pattern) as unknown;
    } catch {
      throw new EventPatternError('the pattern is not valid JSON', '');
    }
  }
  if (!isPlainObject(raw)) throw new EventPatternError('Filter is not an object', '');
  const root = compileObject(raw, '', false);
  return { matches: (event: unknown) => matchObjectNode(root, event) };
}

/** Throws EventPatternError naming the problem (and where) when PutRule would reject the pattern. */
export function validatePattern(pattern: unknown): void {
  compilePattern(pattern);
}

/** True when the event matches the pattern. Throws EventPatternError for an invalid pattern. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern).matches(event);
}

function compileObject(raw: Record<string, unknown>, path: string, insideOr: boolean): ObjectNode {
  const entries = Object.entries(raw);
  if (entries.length === 0) throw new EventPatternError('Empty objects are not allowed', path);
  const node: ObjectNode = { fields: [], ors: [] };
  for (const [key, value] of entries) {
    if (key === '$or') {
      node.ors.push(compileOr(value, path));
      continue;
    }
    const here = join(path, key);
    if (insideOr && OPERATORS.has(key)) {
      throw new EventPatternError(`"${key}" is a reserved keyword and cannot be a field name inside $or`, here);
    }
    if (Array.isArray(value)) {
      node.fields.push({ key, node: { kind: 'leaf', conditions: compileLeaf(value, here) } });
    } else if (isPlainObject(value)) {
      node.fields.push({ key, node: { kind: 'object', node: compileObject(value, here, insideOr) } });
    } else {
      throw new EventPatternError(`"${key}" must be an object or an array`, here);
    }
  }
  return node;
}

function compileOr(value: unknown, path: string): ObjectNode[] {
  const here = join(path, '$or');
  if (!Array.isArray(value)) throw new EventPatternError('$or must be followed by an array', here);
  if (value.length < 2) throw new EventPatternError('$or needs at least 2 objects', here);
  return value.map((branch, i) => {
    if (!isPlainObject(branch)) throw new EventPatternError('only objects are allowed in a $or array', `${here}[${i}]`);
    return compileObject(branch, path, true);
  });
}

function compileLeaf(values: unknown[], path: string): Condition[] {
  if (values.length === 0) throw new EventPatternError('Empty arrays are not allowed', path);
  return values.map((value, i) => {
    const here = `${path}[${i}]`;
    if (typeof value === 'string') return { kind: 'value', test: exactString(value) };
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
      return { kind: 'value', test: (v: Leaf) => v === value };
    }
    if (isPlainObject(value)) return compileOperator(value, here);
    throw new EventPatternError('Match value must be String, number, true, false, or null', here);
  });
}

function exactString(expected: string): (value: Leaf) => boolean {
  const family = isIP(expected);
  if (family === 0) return (v) => v === expected;
  const list = new BlockList();
  list.addAddress(expected, family === 4 ? 'ipv4' : 'ipv6');
  return (v) => v === expected || (typeof v === 'string' && inBlockList(list, v));
}

function inBlockList(list: BlockList, value: string): boolean {
  const family = isIP(value);
  return family !== 0 && list.check(value, family === 4 ? 'ipv4' : 'ipv6');
}

function compileOperator(expression: Record<string, unknown>, path: string): Condition {
  const keys = Object.keys(expression);
  if (keys.length !== 1) throw new EventPatternError('Only one key allowed in match expression', path);
  const op = keys[0] as string;
  const arg = expression[op];
  const here = join(path, op);
  switch (op) {
    case 'prefix':
      return value(affix(arg, here, 'prefix'));
    case 'suffix':
      return value(affix(arg, here, 'suffix'));
    case 'equals-ignore-case': {
      const expected = requireString(arg, here, 'equals-ignore-case match pattern must be a string').toLowerCase();
      return value((v) => typeof v === 'string' && v.toLowerCase() === expected);
    }
    case 'wildcard': {
      const regex = wildcardRegex(requireString(arg, here, 'wildcard match pattern must be a string'), here);
      return value((v) => typeof v === 'string' && regex.test(v));
    }
    case 'anything-but':
      return value(anythingBut(arg, here));
    case 'numeric':
      return value(numeric(arg, here));
    case 'exists':
      if (typeof arg !== 'boolean') throw new EventPatternError('exists match pattern must be either true or false', here);
      return { kind: 'exists', exists: arg };
    case 'cidr':
      return value(cidr(arg, here));
    default:
      throw new EventPatternError(`Unrecognized match type ${op}`, here);
  }
}

const value = (test: (v: Leaf) => boolean): Condition => ({ kind: 'value', test });

function requireString(arg: unknown, path: string, message: string): string {
  if (typeof arg !== 'string') throw new EventPatternError(message, path);
  return arg;
}

/** `{"prefix": "x"}`, `{"prefix": {"equals-ignore-case": "x"}}`, and the same for suffix. */
function affix(arg: unknown, path: string, kind: 'prefix' | 'suffix'): (v: Leaf) => boolean {
  let text: string;
  let ignoreCase = false;
  if (typeof arg === 'string') {
    text = arg;
  } else if (isPlainObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length !== 1 || keys[0] !== 'equals-ignore-case') {
      throw new EventPatternError(`Unsupported ${kind} pattern: ${keys.join(', ') || '{}'}`, path);
    }
    text = requireString(arg['equals-ignore-case'], join(path, 'equals-ignore-case'), 'equals-ignore-case match pattern must be a string');
    ignoreCase = true;
  } else {
    throw new EventPatternError(`${kind} match pattern must be a string`, path);
  }
  const needle = ignoreCase ? text.toLowerCase() : text;
  return (v) => {
    if (typeof v !== 'string') return false;
    const hay = ignoreCase ? v.toLowerCase() : v;
    return kind === 'prefix' ? hay.startsWith(needle) : hay.endsWith(needle);
  };
}

/**
 * Wildcard syntax (event-ruler): `*` matches any run of characters, `\*` a literal star, `\\` a literal
 * backslash; two consecutive `*` and any other escape are invalid.
 */
function wildcardRegex(pattern: string, path: string): RegExp {
  let source = '';
  let previousWasStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (previousWasStar) throw new EventPatternError('Consecutive wildcard characters are not allowed', path);
      source += '[\\s\\S]*';
      previousWasStar = true;
      continue;
    }
    previousWasStar = false;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') {
        throw new EventPatternError('a backslash may only escape "*" or "\\" in a wildcard pattern', path);
      }
      source += escapeRegex(next);
      i++;
      continue;
    }
    source += escapeRegex(ch);
  }
  return new RegExp(`^${source}$`, 'u');
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * anything-but: a string or number, a list of only strings or only numbers, or
 * `{prefix|suffix|equals-ignore-case|wildcard: string | string[]}`. Returns the test "is this leaf NOT excluded".
 */
function anythingBut(arg: unknown, path: string): (v: Leaf) => boolean {
  if (typeof arg === 'string') return (v) => v !== arg;
  if (typeof arg === 'number') return (v) => v !== arg;
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw new EventPatternError('anything-but list must not be empty', path);
    if (arg.every((x) => typeof x === 'string')) {
      const excluded = new Set<string>(arg);
      return (v) => typeof v !== 'string' || !excluded.has(v);
    }
    if (arg.every((x) => typeof x === 'number')) {
      const excluded = new Set<number>(arg);
      return (v) => typeof v !== 'number' || !excluded.has(v);
    }
    throw new EventPatternError('Inside anything-but list, either all values are number or string, mixed type is not supported', path);
  }
  if (isPlainObject(arg)) {
    const keys = Object.keys(arg);
    const op = keys[0];
    if (keys.length !== 1 || op === undefined) throw new EventPatternError('Only one key allowed in anything-but expression', path);
    const here = join(path, op);
    if (!ANYTHING_BUT_MODIFIERS.has(op)) throw new EventPatternError(`Unsupported anything-but pattern: ${op}`, here);
    const raw = arg[op];
    const texts = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
      throw new EventPatternError(`anything-but ${op} must be a string or a non-empty list of strings`, here);
    }
    switch (op) {
      case 'prefix':
      case 'suffix': {
        if (texts.some((t) => t === '')) throw new EventPatternError('Null prefix/suffix not allowed', here);
        return (v) => typeof v !== 'string' || !texts.some((t) => (op === 'prefix' ? v.startsWith(t) : v.endsWith(t)));
      }
      case 'equals-ignore-case': {
        const lowered = new Set(texts.map((t) => t.toLowerCase()));
        return (v) => typeof v !== 'string' || !lowered.has(v.toLowerCase());
      }
      case 'wildcard': {
        const regexes = texts.map((t) => wildcardRegex(t, here));
        return (v) => typeof v !== 'string' || !regexes.some((r) => r.test(v));
      }
      default:
        throw new EventPatternError(`Unsupported anything-but pattern: ${op}`, here);
    }
  }
  throw new EventPatternError('Value of anything-but must be an array or single string/number value', path);
}

const ANYTHING_BUT_MODIFIERS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'wildcard']);

interface Bound {
  value: number;
  inclusive: boolean;
}

/**
 * numeric: `["=", n]`, `["<" | "<=", n]`, `[">" | ">=", n]`, or `[">" | ">=", low, "<" | "<=", high]`
 * with low < high (event-ruler's grammar: a lower bound comes first).
 */
function numeric(arg: unknown, path: string): (v: Leaf) => boolean {
  if (!Array.isArray(arg)) throw new EventPatternError('Value of numeric must be an array', path);
  const [op1, n1, op2, n2, ...rest] = arg as unknown[];
  const num = (n: unknown, op: unknown): number => {
    if (typeof n !== 'number') throw new EventPatternError(`Value of ${String(op)} must be numeric`, path);
    return n;
  };
  if (rest.length > 0) throw new EventPatternError('Too many terms in numeric range expression', path);
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  switch (op1) {
    case '=': {
      const n = num(n1, op1);
      if (arg.length !== 2) throw new EventPatternError('Too many elements in numeric expression', path);
      return (v) => typeof v === 'number' && v === n;
    }
    case '<':
    case '<=':
      if (arg.length !== 2) throw new EventPatternError('Too many elements in numeric expression', path);
      upper = { value: num(n1, op1), inclusive: op1 === '<=' };
      break;
    case '>':
    case '>=':
      lower = { value: num(n1, op1), inclusive: op1 === '>=' };
      if (arg.length === 2) break;
      if (op2 !== '<' && op2 !== '<=') throw new EventPatternError(`Bad numeric range operator: ${show(op2)}`, path);
      if (arg.length !== 4) throw new EventPatternError(`Value of ${op2} must be numeric`, path);
      upper = { value: num(n2, op2), inclusive: op2 === '<=' };
      if (lower.value >= upper.value) {
        throw new EventPatternError('Bottom must be less than top in a numeric range', path);
      }
      break;
    default:
      throw new EventPatternError(`Unrecognized numeric range operator: ${show(op1)}`, path);
  }
  return (v) =>
    typeof v === 'number' &&
    (lower === undefined || v > lower.value || (lower.inclusive && v === lower.value)) &&
    (upper === undefined || v < upper.value || (upper.inclusive && v === upper.value));
}

/** cidr: `"10.0.0.0/24"` or an IPv6 prefix. Matches string IP addresses inside the block. */
function cidr(arg: unknown, path: string): (v: Leaf) => boolean {
  const text = requireString(arg, path, 'cidr match pattern must be a string');
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const family = match ? isIP(match[1] as string) : 0;
  const bits = match ? Number(match[2]) : NaN;
  if (!match || family === 0 || bits > (family === 4 ? 32 : 128)) {
    throw new EventPatternError(`Nonstandard IP address or CIDR block: ${text}`, path);
  }
  const list = new BlockList();
  list.addSubnet(match[1] as string, bits, family === 4 ? 'ipv4' : 'ipv6');
  return (v) => typeof v === 'string' && inBlockList(list, v);
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

/** The scalar values at a field: arrays are flattened, objects are not leaves. */
function leavesOf(value: unknown): Leaf[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(leavesOf);
  if (typeof value === 'object' && value !== null) return [];
  return [value as Leaf];
}

/** The objects a nested pattern applies to: the object itself, or each object inside an (nested) array. */
function objectsOf(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(objectsOf);
  return isPlainObject(value) ? [value] : [];
}

const EMPTY: Record<string, unknown> = {};

function matchObjectNode(node: ObjectNode, value: unknown): boolean {
  const candidates = objectsOf(value);
  // No object here: every field below is absent (only exists:false can still match).
  if (candidates.length === 0) return matchFields(node, EMPTY);
  return candidates.some((candidate) => matchFields(node, candidate));
}

function matchFields(node: ObjectNode, object: Record<string, unknown>): boolean {
  for (const { key, node: field } of node.fields) {
    const value = Object.hasOwn(object, key) ? object[key] : undefined;
    const ok = field.kind === 'object' ? matchObjectNode(field.node, value) : matchLeaf(field.conditions, leavesOf(value));
    if (!ok) return false;
  }
  return node.ors.every((branches) => branches.some((branch) => matchFields(branch, object)));
}

function matchLeaf(conditions: Condition[], leaves: Leaf[]): boolean {
  return conditions.some((condition) =>
    condition.kind === 'exists' ? condition.exists === leaves.length > 0 : leaves.some(condition.test),
  );
}
