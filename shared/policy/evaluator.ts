/**
 * IAM evaluation of a resource-based policy (a VPC Lattice auth policy): the local Lattice data
 * plane enforces auth policies with it, the grants function explains an applied policy's decision
 * with it (so the explanation is the enforcement's own logic), and the compiler's tests use it as
 * the judge. It lives in shared/ because a Lambda bundles it.
 *
 * Scope: the resource policy on its own. Lattice also requires the caller's identity policy to
 * allow the call and checks the service-network policy first (docs/aws-behaviour.md, "VPC Lattice
 * auth policies › Policy language and evaluation"); those are the caller's business. Logic: a statement applies when its Principal, Action, Resource and
 * Condition all match; any applying Deny gives ExplicitDeny, else any applying Allow gives Allow,
 * else ImplicitDeny (the default).
 *
 * Principal (`Principal` / `NotPrincipal`): `"*"` and `{"AWS": "*"}` match everyone, anonymous
 * callers included; `{"AWS": <12-digit account> | arn:…:iam::<account>:root}` matches any principal
 * of that account; a role ARN `arn:…:iam::<acct>:role/<path>/<name>` matches the role and every
 * session of it (`arn:…:sts::<acct>:assumed-role/<name>/<session>`); any other ARN must be equal.
 * Service, Federated and CanonicalUser principals are refused (PolicyDocumentError): Lattice auth
 * policies have no use for them and guessing would be unsafe.
 * Action: case-insensitive, `*` and `?` wildcards. Resource: see arn-pattern.ts.
 * Policy variables are interpreted only when Version is "2012-10-17" (as IAM does); with
 * "2008-10-17" or no Version, `${…}` is literal text.
 */
import { ArnMatcher, compileResourcePattern, splitArn } from './arn-pattern';
import { CompiledCondition, compileConditions } from './conditions';
import { compileMatcher, Matcher, parsePattern } from './pattern';
import { PolicyDocumentError } from './policy-document-error';
import { ANONYMOUS_PRINCIPAL, ContextLookup, EvaluationRequest } from './request-context';

export { ANONYMOUS_PRINCIPAL, type ContextValue, type EvaluationRequest } from './request-context';
export { PolicyDocumentError } from './policy-document-error';

export type Effect = 'Allow' | 'Deny';
export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface StatementRef {
  index: number;
  sid?: string;
}

export interface MatchedStatement extends StatementRef {
  effect: Effect;
}

export interface EvaluationResult {
  decision: Decision;
  /** Every statement that applied to the request, in document order. */
  matchedStatements: MatchedStatement[];
  /** The first applying Deny (ExplicitDeny) or the first applying Allow (Allow); absent for ImplicitDeny. */
  decidingStatement?: StatementRef;
}

export interface PreparedPolicy {
  readonly statementCount: number;
  evaluate(request: EvaluationRequest): EvaluationResult;
}

export const POLICY_VERSION = '2012-10-17';

type PrincipalMatcher = (principal: string) => boolean;

interface CompiledStatement {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  readonly principal: PrincipalMatcher;
  readonly action: (action: string) => boolean;
  readonly resource: (arn: string[] | undefined, lookup: ContextLookup) => boolean;
  readonly conditions: readonly CompiledCondition[];
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const ACCOUNT_ID = /^\d{12}$/;
const ROOT_ARN = /^arn:[^:]+:iam::(\d{12}):root$/;
const ROLE_ARN = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function stringList(value: unknown, path: string): string[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw new PolicyDocumentError(path, 'must not be an empty list');
  return list.map((item, index) => {
    if (typeof item !== 'string') throw new PolicyDocumentError(Array.isArray(value) ? `${path}[${index}]` : path, 'must be a string');
    return item;
  });
}

const accountOf = (arn: string): string | undefined => splitArn(arn)?.[4];

function awsPrincipalMatcher(value: string): PrincipalMatcher {
  if (value === '*') return () => true;
  const root = ROOT_ARN.exec(value);
  const account = ACCOUNT_ID.test(value) ? value : root?.[1];
  if (account !== undefined) return (principal) => principal !== ANONYMOUS_PRINCIPAL && accountOf(principal) === account;
  const role = ROLE_ARN.exec(value);
  if (role) {
    const sessionPrefix = `arn:${role[1]}:sts::${role[2]}:assumed-role/${role[3]}/`;
    return (principal) => principal === value || (principal.startsWith(sessionPrefix) && principal.length > sessionPrefix.length);
  }
  return (principal) => principal === value;
}

function compilePrincipal(value: unknown, path: string): PrincipalMatcher {
  if (value === '*') return () => true;
  if (!isObject(value)) throw new PolicyDocumentError(path, 'must be "*" or an object such as {"AWS": [...]}');
  const matchers: PrincipalMatcher[] = [];
  for (const [kind, entries] of Object.entries(value)) {
    if (kind !== 'AWS') {
      throw new PolicyDocumentError(`${path}.${kind}`, `principal type "${kind}" is not supported in a Lattice auth policy (use "AWS")`);
    }
    matchers.push(...stringList(entries, `${path}.AWS`).map(awsPrincipalMatcher));
  }
  if (matchers.length === 0) throw new PolicyDocumentError(path, 'names no principal');
  return (principal) => matchers.some((m) => m(principal));
}

function compileActions(value: unknown, path: string): (action: string) => boolean {
  const matchers: Matcher[] = stringList(value, path).map((a) =>
    compileMatcher(parsePattern(a, { wildcards: true, variables: false }), true),
  );
  return (action) => {
    const lower = action.toLowerCase();
    return matchers.some((m) => m.test(lower));
  };
}

function compileResources(value: unknown, path: string, variables: boolean): CompiledStatement['resource'] {
  const patterns = stringList(value, path).map((r) => compileResourcePattern(r, variables));
  if (patterns.includes('all')) return () => true;
  const matchers = patterns as ArnMatcher[];
  return (arn, lookup) => arn !== undefined && matchers.some((m) => m.test(arn, lookup));
}

/** Exactly one of the two alternative element names must be present. */
function pick(statement: Record<string, unknown>, positive: string, negative: string, path: string): { value: unknown; negated: boolean } {
  const hasPositive = statement[positive] !== undefined;
  const hasNegative = statement[negative] !== undefined;
  if (hasPositive === hasNegative) {
    throw new PolicyDocumentError(path, `a statement has exactly one of ${positive} and ${negative}`);
  }
  return hasPositive ? { value: statement[positive], negated: false } : { value: statement[negative], negated: true };
}

function compileStatement(raw: unknown, index: number, variables: boolean): CompiledStatement {
  const path = `Statement[${index}]`;
  if (!isObject(raw)) throw new PolicyDocumentError(path, 'a statement is an object');
  for (const key of Object.keys(raw)) {
    if (!STATEMENT_KEYS.has(key)) throw new PolicyDocumentError(`${path}.${key}`, 'unknown statement element');
  }
  const sid = raw.Sid;
  if (sid !== undefined && typeof sid !== 'string') throw new PolicyDocumentError(`${path}.Sid`, 'must be a string');
  const effect = raw.Effect;
  if (effect !== 'Allow' && effect !== 'Deny') throw new PolicyDocumentError(`${path}.Effect`, 'must be "Allow" or "Deny"');

  const principal = pick(raw, 'Principal', 'NotPrincipal', path);
  const principalMatcher = compilePrincipal(principal.value, `${path}.${principal.negated ? 'NotPrincipal' : 'Principal'}`);
  const action = pick(raw, 'Action', 'NotAction', path);
  const actionMatcher = compileActions(action.value, `${path}.${action.negated ? 'NotAction' : 'Action'}`);
  const resource = pick(raw, 'Resource', 'NotResource', path);
  const resourceMatcher = compileResources(resource.value, `${path}.${resource.negated ? 'NotResource' : 'Resource'}`, variables);
  const conditions = raw.Condition === undefined ? [] : compileConditions(raw.Condition, `${path}.Condition`, variables);

  return {
    index,
    sid,
    effect,
    principal: principal.negated ? (p) => !principalMatcher(p) : principalMatcher,
    action: action.negated ? (a) => !actionMatcher(a) : actionMatcher,
    resource: resource.negated ? (arn, lookup) => !resourceMatcher(arn, lookup) : resourceMatcher,
    conditions,
  };
}

function applies(statement: CompiledStatement, request: EvaluationRequest, arn: string[] | undefined, lookup: ContextLookup): boolean {
  if (!statement.principal(request.principal) || !statement.action(request.action) || !statement.resource(arn, lookup)) return false;
  for (const condition of statement.conditions) {
    if (!condition.evaluate(lookup)) return false;
  }
  return true;
}

const ref = (s: CompiledStatement): StatementRef => (s.sid === undefined ? { index: s.index } : { index: s.index, sid: s.sid });

/** Parses and compiles a policy once; `evaluate` is then cheap. Throws PolicyDocumentError. */
export function preparePolicy(document: unknown): PreparedPolicy {
  let parsed = document;
  if (typeof document === 'string') {
    try {
      parsed = JSON.parse(document);
    } catch (error) {
      throw new PolicyDocumentError('', `not valid JSON (${(error as Error).message})`);
    }
  }
  if (!isObject(parsed)) throw new PolicyDocumentError('', 'a policy document is a JSON object');
  for (const key of Object.keys(parsed)) {
    if (!DOCUMENT_KEYS.has(key)) throw new PolicyDocumentError(key, 'unknown policy element');
  }
  const version = parsed.Version;
  if (version !== undefined && version !== POLICY_VERSION && version !== '2008-10-17') {
    throw new PolicyDocumentError('Version', 'must be "2012-10-17" or "2008-10-17"');
  }
  if (parsed.Id !== undefined && typeof parsed.Id !== 'string') throw new PolicyDocumentError('Id', 'must be a string');
  const rawStatements = parsed.Statement;
  const list = Array.isArray(rawStatements) ? (rawStatements as unknown[]) : rawStatements === undefined ? [] : [rawStatements];
  if (list.length === 0) throw new PolicyDocumentError('Statement', 'a policy has at least one statement');
  const statements = list.map((s, index) => compileStatement(s, index, version === POLICY_VERSION));

  return {
    statementCount: statements.length,
    evaluate(request) {
      const lookup = new ContextLookup(request.context);
      const arn = splitArn(request.resource);
      const matchedStatements: MatchedStatement[] = [];
      let firstAllow: CompiledStatement | undefined;
      let firstDeny: CompiledStatement | undefined;
      for (const statement of statements) {
        if (!applies(statement, request, arn, lookup)) continue;
        matchedStatements.push({ ...ref(statement), effect: statement.effect });
        if (statement.effect === 'Deny') firstDeny ??= statement;
        else firstAllow ??= statement;
      }
      if (firstDeny) return { decision: 'ExplicitDeny', matchedStatements, decidingStatement: ref(firstDeny) };
      if (firstAllow) return { decision: 'Allow', matchedStatements, decidingStatement: ref(firstAllow) };
      return { decision: 'ImplicitDeny', matchedStatements };
    },
  };
}

const CACHE_LIMIT = 256;
const byText = new Map<string, PreparedPolicy>();
const byObject = new WeakMap<object, PreparedPolicy>();

/**
 * Evaluates a policy (JSON text or parsed document) against a request, caching the compiled form:
 * by text (the last {@link CACHE_LIMIT} distinct policies) or by object identity (so do not mutate
 * a document object after evaluating it; pass the JSON text, as the data plane stores it, when in doubt).
 * Throws PolicyDocumentError for a policy it cannot interpret; callers on the data plane deny then.
 */
export function evaluatePolicy(document: unknown, request: EvaluationRequest): EvaluationResult {
  if (typeof document === 'string') {
    let prepared = byText.get(document);
    if (prepared === undefined) {
      prepared = preparePolicy(document);
      if (byText.size >= CACHE_LIMIT) {
        const oldest = byText.keys().next();
        if (!oldest.done) byText.delete(oldest.value);
      }
      byText.set(document, prepared);
    }
    return prepared.evaluate(request);
  }
  if (document !== null && typeof document === 'object') {
    let prepared = byObject.get(document);
    if (prepared === undefined) {
      prepared = preparePolicy(document);
      byObject.set(document, prepared);
    }
    return prepared.evaluate(request);
  }
  return preparePolicy(document).evaluate(request);
}
