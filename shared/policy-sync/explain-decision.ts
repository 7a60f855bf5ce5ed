/**
 * GET /services/{name}/decision: why a request of a SPIFFE ID is allowed or denied, answered from
 * the auth policy Lattice has APPLIED (not the compilation: that is what decides calls now),
 * evaluated with the evaluator the local data plane enforces with, for the request a Roles Anywhere
 * session of that ID would make. It names the deciding statement, the grants it came from (from the
 * compilation of the current grants, whose Sids are those of the applied policy when `policyState`
 * is in-sync), and for a DENY the allow grants that come closest and the deny grants in the way.
 */
import { validationError, type ErrorDetail } from '../errors';
import { effectOfGrant, toPublicGrant, type Grant, type StoredService } from '../grants/model';
import { grantMatches, HTTP_METHODS } from '../policy/compiler';
import { evaluatePolicy, PolicyDocumentError, type Decision } from '../policy/evaluator';
import { nearestAllowing, type NearMiss } from '../policy/nearest-grant';
import { roleSessionRequest } from '../policy/session-request';
import { parseSpiffeId } from '../spiffe/spiffe-id';
import { toCompilerGrant } from './compile';
import type { PolicyDeps } from './deps';
import { readPolicySnapshot, type PolicyState } from './policy-view';

export interface DecisionQuery {
  caller: string;
  method: string;
  path: string;
}

export interface DecisionExplanation {
  service: string;
  serviceArn: string;
  request: DecisionQuery;
  decision: 'ALLOW' | 'DENY';
  /** The evaluator's verdict; `NoPolicy` when Lattice has none (it then denies every call). */
  evaluation: Decision | 'NoPolicy' | 'UnreadablePolicy';
  /** The statement that decided; null when none matched (or there is no policy). */
  statement: { sid: string | null; index: number; effect: 'Allow' | 'Deny' } | null;
  reason: string;
  /** The current grants the deciding statement expresses that match this request. */
  grants: Grant[];
  /** in-sync: the applied policy is the compilation of the current grants; pending / drifted: it is not (yet); over-quota: the grants do not compile within the limit. */
  policyState: 'in-sync' | 'pending' | 'drifted' | 'over-quota';
  /** For a DENY: the allow grants nearest to admitting it, with what each would need. */
  nearest: NearMiss[];
  /** For a DENY: deny grants that match the request (any allow would still lose to them). */
  blockedBy: Grant[];
}

const MAX_PATH_LENGTH = 2048;

/** The query of the decision route, or a 400 naming each field and its rule. */
export function parseDecisionQuery(query: Readonly<Record<string, string | undefined>>): DecisionQuery {
  const details: ErrorDetail[] = [];
  const caller = query.caller;
  if (caller === undefined || caller === '') {
    details.push({ field: 'caller', rule: 'required', message: 'is required: the SPIFFE ID making the call, e.g. spiffe://example.org/service/orders' });
  } else {
    const parsed = parseSpiffeId(caller);
    if (!parsed.ok) details.push({ field: 'caller', rule: parsed.rule, message: parsed.message });
    else if (parsed.id.path === '') details.push({ field: 'caller', rule: 'path-required', message: 'a workload\'s SPIFFE ID has a path; a trust-domain ID calls nothing' });
  }
  const method = query.method === undefined || query.method === '' ? 'GET' : query.method;
  if (!HTTP_METHODS.includes(method)) details.push({ field: 'method', rule: 'method', message: `a method is one of ${HTTP_METHODS.join(', ')} (upper case)` });
  const path = query.path === undefined || query.path === '' ? '/' : query.path;
  if (!path.startsWith('/')) details.push({ field: 'path', rule: 'path-start', message: 'a request path starts with "/"' });
  else if (/[?#\s]/.test(path)) details.push({ field: 'path', rule: 'path-chars', message: 'a request path has no query ("?"), fragment ("#") or whitespace' });
  else if (path.length > MAX_PATH_LENGTH) details.push({ field: 'path', rule: 'path-length', message: `a request path is at most ${MAX_PATH_LENGTH} characters` });
  if (details.length > 0) throw validationError(`The decision query is invalid: ${details.map((d) => `${d.field}: ${d.message} (${d.rule})`).join('; ')}`, details);
  return { caller: caller as string, method, path };
}

const stateOf = (state: PolicyState): DecisionExplanation['policyState'] => (state === 'failed' ? 'over-quota' : state);

export async function explainDecision(deps: PolicyDeps, service: StoredService, query: DecisionQuery): Promise<DecisionExplanation> {
  const snapshot = await readPolicySnapshot(deps, service);
  const grantRequest = { callerUri: query.caller, method: query.method, path: query.path };
  const matching = snapshot.grants.filter((g) => grantMatches(toCompilerGrant(g), grantRequest));
  const base = { service: service.name, serviceArn: service.arn, request: query, policyState: stateOf(snapshot.state) };
  const denyDetails = (): Pick<DecisionExplanation, 'nearest' | 'blockedBy'> => ({
    nearest: nearestAllowing(snapshot.grants.map(toCompilerGrant), grantRequest),
    blockedBy: matching.filter((g) => effectOfGrant(g) === 'Deny').map(toPublicGrant),
  });

  if (snapshot.applied === undefined) {
    return { ...base, decision: 'DENY', evaluation: 'NoPolicy', statement: null, reason: 'Lattice has no auth policy for this service, so it denies every call (the policy sync has not applied one yet)', grants: [], ...denyDetails() };
  }
  const request = roleSessionRequest({
    serviceArn: service.arn,
    roleArn: deps.compile.principalArn,
    ...(deps.compile.issuerOu === undefined ? {} : { issuerOu: deps.compile.issuerOu }),
    callerUri: query.caller,
    method: query.method,
    path: query.path,
  });
  let result;
  try {
    result = evaluatePolicy(snapshot.applied.policy, request);
  } catch (error) {
    if (!(error instanceof PolicyDocumentError)) throw error;
    return { ...base, decision: 'DENY', evaluation: 'UnreadablePolicy', statement: null, reason: `the applied policy cannot be interpreted (${error.message}); the local data plane denies then`, grants: [], ...denyDetails() };
  }
  const deciding = result.decidingStatement;
  if (deciding === undefined) {
    return { ...base, decision: 'DENY', evaluation: result.decision, statement: null, reason: 'no statement matched: no grant admits this caller, method and path', grants: [], ...denyDetails() };
  }
  const effect = result.decision === 'Allow' ? 'Allow' : 'Deny';
  const sid = deciding.sid ?? null;
  const sources = new Set(snapshot.compilation.ok && sid !== null ? (snapshot.compilation.compiled.statementGrants[sid] ?? []) : []);
  const grants = matching.filter((g) => sources.has(g.id) && effectOfGrant(g) === effect).map(toPublicGrant);
  const named = sid === null ? `statement ${deciding.index}` : `statement ${sid}`;
  const reason =
    effect === 'Allow'
      ? `${named} allows it and no Deny statement matches`
      : sid === 'DenyAll'
        ? `${named} denies every call: the service has no allow grant`
        : `${named} denies it explicitly (a Deny wins over every Allow)`;
  return {
    ...base,
    decision: effect === 'Allow' ? 'ALLOW' : 'DENY',
    evaluation: result.decision,
    statement: { sid, index: deciding.index, effect },
    reason,
    grants,
    ...(effect === 'Allow' ? { nearest: [], blockedBy: [] } : denyDetails()),
  };
}

