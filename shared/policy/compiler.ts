/**
 * Auth policy compiler: the grants of ONE Lattice service → the auth policy document that
 * PutAuthPolicy receives (one line of JSON, no newlines).
 *
 * What a grant means ({@link grantAllows} is the executable definition, used as the test oracle):
 * the caller (an exact SPIFFE ID, or a prefix `spiffe://<td>/<path>/*` matching every ID below
 * `<path>/`) may invoke the service with any of `methods` (all methods when omitted) on any request
 * path that STARTS WITH one of `pathPrefixes` (all paths when omitted). Prefix matching is plain
 * string prefix matching: `/api` admits `/api`, `/api/x` and also `/apiary`; write `/api/` to
 * admit only what is below `/api/`.
 *
 * A grant with `effect: "Deny"` (default "Allow") is an explicit exception carved out of the allows:
 * a request is allowed when some Allow grant matches it and NO Deny grant does
 * ({@link grantsAllow}). The meaning of a set is (∪ allows) ∖ (∪ denies).
 *
 * How that is expressed (docs/aws-behaviour.md, "VPC Lattice auth policies › Policy language and
 * evaluation" and "IAM Roles Anywhere › Principal tags from the certificate"): every Allow statement is
 *   Allow vpc-lattice-svcs:Invoke, Principal "*", Resource "<serviceArn>/*", with conditions
 *   - StringEquals aws:PrincipalArn = the stage's Roles Anywhere role ARN. For a role session this
 *     key holds the ROLE ARN (arn:aws:iam::<acct>:role/<name>), not the session's assumed-role ARN;
 *   - the caller on aws:PrincipalTag/x509SAN/URI (the SVID's URI SAN): StringEquals for exact IDs,
 *     StringLike in a separate statement for prefixes (the prefix's only `*` is its last character);
 *   - StringEquals vpc-lattice-svcs:RequestMethod when the grant narrows methods;
 *   - StringLike vpc-lattice-svcs:RequestPath "<prefix>*" when it narrows paths. A condition rather
 *     than a narrowed Resource ARN: it does not depend on how Lattice joins the service ARN and the
 *     path, and one shared Resource keeps the document small;
 *   - StringEquals aws:PrincipalTag/x509Issuer/OU when the stage pins its issuing CA.
 * A Deny grant becomes a Deny statement with the same caller, method and path conditions but
 * WITHOUT the aws:PrincipalArn and issuer-OU conditions: those only narrow who a statement applies
 * to, and a deny narrowed to the stage's role would be weaker, never stronger (any other principal
 * is denied anyway, by the absence of an Allow). IAM lets an applying Deny win over every Allow.
 *
 * Revoked certificates (`revokedSerials`) become ONE more statement, `DenyRevokedSessions`: Deny
 * vpc-lattice-svcs:Invoke, Principal "*", Resource "<serviceArn>/*", StringLike aws:userid
 * "*:<serial>" for each serial. IAM Roles Anywhere names the role session after the certificate's
 * serial (lowercase hex), and for a role session aws:userid is "<role unique id>:<session name>"
 * (docs/aws-behaviour.md, "VPC Lattice auth policies › Identifying a revoked certificate's
 * sessions"): the deny hits exactly the sessions made with a revoked certificate, not other
 * certificates of the same SPIFFE ID. The leading `*` stands for the role id, which the stage need
 * not know; a deny can only ever narrow access, so matching any role's session of that name is
 * safe. Serials are lowercase hex (validated), so they can carry no wildcard of their own. The deny
 * statement is emitted (and counted against the size quota) whenever there is an allow for it to
 * narrow; with no allow left the policy is DENY_ALL_POLICY, which already refuses every session.
 *
 * Canonical output: the same grants in any order give byte-identical JSON. Identical grants are
 * merged; a grant covered by another single grant — an exact ID under a prefix grant, or a prefix
 * under a broader prefix, with the same or fewer methods and paths — is dropped and reported in
 * `droppedAsCovered`. Coverage with denies: an allow covered by an allow, or a deny covered by a
 * deny, is redundant (dropping it leaves the union unchanged); an allow covered by a deny is dead
 * (everything it admits is denied) and is dropped too. A deny is NEVER dropped because an allow
 * covers it: that would delete the exception. (An allow covered by an allow that is partly denied
 * may still go: the covering allow admits all it does, and the same denies apply to both.) When no
 * allow is left the policy is {@link DENY_ALL_POLICY}.
 * Grants with the same effect, kind, methods and paths share one statement with a sorted caller
 * list; Sids are derived from that shape (`AllowExactAll`, `AllowPrefix<hash>`, `DenyExactAll`,
 * `DenyPrefix<hash>`); statements are sorted by Sid and every object's keys are sorted.
 *
 * Safety: every grant is re-validated here (the API validated it first) — callers through the
 * SPIFFE ID parser, methods against the HTTP method set, path prefixes against RFC 3986 path
 * characters minus `*`, `?`, `$`, `{`, `}` — so no grant can put a wildcard, a policy variable or
 * JSON syntax into the policy; a final pass asserts the same on every emitted string.
 */
import { createHash } from 'node:crypto';
import { ErrorDetail, TrellisError } from '../errors';
import { parseSpiffeId, parseSpiffeIdPrefix, parseWorkloadId } from '../spiffe/spiffe-id';

export type GrantEffect = 'Allow' | 'Deny';

export interface Grant {
  id: string;
  /** Default "Allow"; a "Deny" wins over every Allow it matches. */
  effect?: GrantEffect;
  /** An exact SPIFFE ID, or a prefix `spiffe://<td>/<path>/*`. */
  caller: string;
  /** HTTP methods, upper-case; all methods when omitted. */
  methods?: string[];
  /** Request path prefixes, each starting with '/', no wildcard; all paths when omitted. */
  pathPrefixes?: string[];
}

export interface CompileOptions {
  serviceArn: string;
  /** The stage's Roles Anywhere role ARN, e.g. arn:aws:iam::111122223333:role/trellis-dev-workload */
  principalArn: string;
  trustDomain: string;
  /** Optional pin on aws:PrincipalTag/x509Issuer/OU. */
  issuerOu?: string;
  /** Default {@link DEFAULT_MAX_POLICY_BYTES}. */
  maxBytes?: number;
  /** Serials (lowercase hex) of revoked, not yet expired certificates: their sessions are denied. */
  revokedSerials?: readonly string[];
}

export interface CompiledPolicy {
  policy: string;
  /** UTF-8 length of `policy`. */
  bytes: number;
  statements: number;
  /** Ids of grants left out because another grant covers them, sorted. */
  droppedAsCovered: string[];
  /** Sid → the ids of the grants that statement expresses (sorted), for explaining a decision. */
  statementGrants: Record<string, string[]>;
}

export interface GrantRequest {
  callerUri: string;
  method: string;
  path: string;
}

export const HTTP_METHODS: readonly string[] = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'];
export const INVOKE_ACTION = 'vpc-lattice-svcs:Invoke';
/**
 * Lattice documents the auth policy quota as "10 Kilobytes" (docs/aws-behaviour.md, "VPC Lattice
 * auth policies › Auth policy size quota"); whether that is 10,000 or 10,240 bytes is UNCONFIRMED. Decision: 10,000 bytes of UTF-8, the smaller reading.
 */
export const DEFAULT_MAX_POLICY_BYTES = 10_000;
export const MAX_PATH_PREFIX_LENGTH = 1024;

export const CONDITION_KEYS = {
  principalArn: 'aws:PrincipalArn',
  sanUri: 'aws:PrincipalTag/x509SAN/URI',
  issuerOu: 'aws:PrincipalTag/x509Issuer/OU',
  method: 'vpc-lattice-svcs:RequestMethod',
  path: 'vpc-lattice-svcs:RequestPath',
  userId: 'aws:userid',
} as const;

/** The Sid of the statement that denies the sessions of revoked certificates. */
export const REVOKED_SESSIONS_SID = 'DenyRevokedSessions';
/** A certificate serial as ACM Private CA and Roles Anywhere spell it: lowercase hex (RevokeCertificate allows up to 128 characters). */
const SERIAL_HEX = /^[0-9a-f]{1,128}$/;

const METHOD_SET = new Set(HTTP_METHODS);
/** RFC 3986 `pchar` and "/", without `*` and `$` (wildcard, policy variable); `?` and `#` end a path anyway. */
const PATH_CHARS = /^[A-Za-z0-9\-._~%!&'()+,;=:@/]*$/;
const SERVICE_ARN = /^arn:aws[a-z-]*:vpc-lattice:[a-z0-9-]+:\d{12}:service\/svc-[0-9a-z]{17}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** STS session-tag value characters (docs/aws-behaviour.md, "STS session naming › Session tags"): a pinned OU can only match such a value. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u;

// ---------------------------------------------------------------------------------------------
// The meaning of one grant

const isPrefixCaller = (caller: string): boolean => caller.endsWith('/*');

/** Whether a grant's caller, methods and paths match the request, whatever its effect. */
export function grantMatches(grant: Grant, request: GrantRequest): boolean {
  const callerMatches = isPrefixCaller(grant.caller)
    ? request.callerUri.startsWith(grant.caller.slice(0, -1))
    : request.callerUri === grant.caller;
  if (!callerMatches) return false;
  if (grant.methods !== undefined && !grant.methods.includes(request.method)) return false;
  if (grant.pathPrefixes !== undefined && !grant.pathPrefixes.some((prefix) => request.path.startsWith(prefix))) return false;
  return true;
}

export const effectOf = (grant: { effect?: GrantEffect }): GrantEffect => grant.effect ?? 'Allow';

/** One Allow grant on its own admits the request (a Deny grant admits nothing). */
export function grantAllows(grant: Grant, request: GrantRequest): boolean {
  return effectOf(grant) === 'Allow' && grantMatches(grant, request);
}

/** The intended semantics of a grant set (the property tests' oracle): some Allow matches and no Deny does. */
export function grantsAllow(grants: readonly Grant[], request: GrantRequest): boolean {
  return grants.some((g) => grantAllows(g, request)) && !grants.some((g) => effectOf(g) === 'Deny' && grantMatches(g, request));
}

// ---------------------------------------------------------------------------------------------
// Validation

interface NormalizedGrant {
  readonly ids: string[];
  readonly effect: GrantEffect;
  readonly kind: 'exact' | 'prefix';
  readonly caller: string;
  /** The exact ID, or the prefix without its final `*` (ends in '/'). */
  readonly literal: string;
  /** Sorted, unique; undefined = all methods. */
  readonly methods: readonly string[] | undefined;
  /** Sorted, none a prefix of another; undefined = all paths. */
  readonly paths: readonly string[] | undefined;
  readonly key: string;
}

const invalidGrant = (details: ErrorDetail[]): TrellisError => {
  const first = details[0];
  const message =
    details.length === 1 && first !== undefined
      ? `invalid grant: ${first.field}: ${first.message}`
      : `${details.length} problems in the grants; see details`;
  return new TrellisError('InvalidGrant', 400, message, { details });
};

function pathRule(path: string): { rule: string; message: string } | undefined {
  if (!path.startsWith('/')) return { rule: 'path-start', message: 'a path prefix starts with "/"' };
  if (/[*?]/.test(path)) return { rule: 'path-wildcard', message: 'a path prefix has no wildcard ("*" or "?"); it already matches every path that starts with it' };
  if (/[${}]/.test(path)) return { rule: 'path-variable', message: 'a path prefix has no "$", "{" or "}" (policy variable syntax)' };
  if (!PATH_CHARS.test(path)) {
    return { rule: 'path-chars', message: 'a path prefix uses only URL path characters: letters, digits, and - . _ ~ % ! & \' ( ) + , ; = : @ /' };
  }
  if (path.length > MAX_PATH_PREFIX_LENGTH) return { rule: 'path-length', message: `a path prefix is at most ${MAX_PATH_PREFIX_LENGTH} characters` };
  // Whether Lattice normalises the request path before matching is not documented: a prefix with a
  // dot segment or an encoded "." or "/" could then be walked out of (/public/../admin).
  if (/(^|\/)\.\.?(\/|$)/.test(path) || /%2[ef]/i.test(path)) {
    return { rule: 'path-traversal', message: 'a path prefix has no "." or ".." segment and no encoded "." or "/" (%2E, %2F)' };
  }
  return undefined;
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** Drops prefixes that another prefix in the list already covers. Input sorted: a covering prefix sorts first. */
function minimalPrefixes(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of uniqueSorted(paths)) {
    if (!out.some((kept) => path.startsWith(kept))) out.push(path);
  }
  return out;
}

function normalizeGrant(grant: unknown, index: number, trustDomain: string, details: ErrorDetail[]): NormalizedGrant | undefined {
  const at = `grants[${index}]`;
  const before = details.length;
  const problem = (field: string, rule: string, message: string): void => {
    details.push({ field: `${at}${field}`, rule, message });
  };
  if (grant === null || typeof grant !== 'object') {
    problem('', 'type', 'a grant is an object');
    return undefined;
  }
  const { id, caller, methods, pathPrefixes, effect } = grant as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') problem('.id', 'id', 'a grant has a non-empty string id');
  if (effect !== undefined && effect !== 'Allow' && effect !== 'Deny') problem('.effect', 'effect', 'the effect is "Allow" (the default) or "Deny"');

  let kind: 'exact' | 'prefix' = 'exact';
  let literal = '';
  if (typeof caller !== 'string') {
    problem('.caller', 'type', 'the caller is a SPIFFE ID or a prefix spiffe://<trust domain>/<path>/*');
  } else if (isPrefixCaller(caller)) {
    const parsed = parseSpiffeIdPrefix(caller, trustDomain);
    if (parsed.ok) {
      kind = 'prefix';
      literal = parsed.prefix.literal;
    } else problem('.caller', parsed.rule, parsed.message);
  } else {
    const parsed = parseWorkloadId(caller, trustDomain);
    if (parsed.ok) literal = parsed.id.uri;
    else problem('.caller', parsed.rule, parsed.message);
  }

  let normalizedMethods: string[] | undefined;
  if (methods !== undefined) {
    if (!Array.isArray(methods)) problem('.methods', 'type', 'methods is a list of HTTP methods');
    else if (methods.length === 0) problem('.methods', 'empty-list', 'omit methods to allow every method; an empty list would allow none');
    else {
      (methods as unknown[]).forEach((method, k) => {
        if (typeof method !== 'string' || !METHOD_SET.has(method)) {
          problem(`.methods[${k}]`, 'method', `a method is one of ${HTTP_METHODS.join(', ')} (upper case)`);
        }
      });
      normalizedMethods = uniqueSorted(methods as string[]);
    }
  }

  let normalizedPaths: string[] | undefined;
  if (pathPrefixes !== undefined) {
    if (!Array.isArray(pathPrefixes)) problem('.pathPrefixes', 'type', 'pathPrefixes is a list of path prefixes');
    else if (pathPrefixes.length === 0) problem('.pathPrefixes', 'empty-list', 'omit pathPrefixes to allow every path; an empty list would allow none');
    else {
      (pathPrefixes as unknown[]).forEach((path, k) => {
        const broken = typeof path === 'string' ? pathRule(path) : { rule: 'type', message: 'a path prefix is a string' };
        if (broken) problem(`.pathPrefixes[${k}]`, broken.rule, broken.message);
      });
      normalizedPaths = minimalPrefixes(pathPrefixes as string[]);
    }
  }

  if (details.length > before) return undefined;
  const callerText = caller as string;
  const normalizedEffect: GrantEffect = effect === 'Deny' ? 'Deny' : 'Allow';
  return {
    ids: [id as string],
    effect: normalizedEffect,
    kind,
    caller: callerText,
    literal,
    methods: normalizedMethods,
    paths: normalizedPaths,
    key: JSON.stringify([normalizedEffect, callerText, normalizedMethods ?? null, normalizedPaths ?? null]),
  };
}

function validateOptions(options: CompileOptions): void {
  const details: ErrorDetail[] = [];
  if (typeof options.serviceArn !== 'string' || !SERVICE_ARN.test(options.serviceArn)) {
    details.push({ field: 'serviceArn', rule: 'service-arn', message: 'a VPC Lattice service ARN, arn:aws:vpc-lattice:<region>:<account>:service/svc-<17 chars>' });
  }
  if (typeof options.principalArn !== 'string' || !ROLE_ARN.test(options.principalArn)) {
    details.push({ field: 'principalArn', rule: 'role-arn', message: 'an IAM role ARN, arn:aws:iam::<account>:role/<name>' });
  }
  const td = typeof options.trustDomain === 'string' ? parseSpiffeId(`spiffe://${options.trustDomain}`) : undefined;
  if (td === undefined || !td.ok || td.id.path !== '') {
    details.push({ field: 'trustDomain', rule: 'trust-domain', message: 'a SPIFFE trust domain name, e.g. example.org' });
  }
  if (options.issuerOu !== undefined && (typeof options.issuerOu !== 'string' || !TAG_VALUE.test(options.issuerOu))) {
    details.push({ field: 'issuerOu', rule: 'tag-value', message: 'an issuer OU is 1-256 session-tag characters: letters, digits, spaces and _ . : / = + - @' });
  }
  const max = options.maxBytes;
  if (max !== undefined && !(typeof max === 'number' && max > 0)) {
    details.push({ field: 'maxBytes', rule: 'positive', message: 'maxBytes is a positive number' });
  }
  (options.revokedSerials ?? []).forEach((serial, i) => {
    if (typeof serial !== 'string' || !SERIAL_HEX.test(serial)) {
      details.push({ field: `revokedSerials[${i}]`, rule: 'serial-hex', message: 'a certificate serial is 1-128 lowercase hex digits' });
    }
  });
  if (details.length > 0) {
    throw new TrellisError('InvalidCompileOptions', 500, `invalid auth policy compiler options: ${details.map((d) => d.field).join(', ')}`, { details });
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage and grouping

function methodsCover(wide: readonly string[] | undefined, narrow: readonly string[] | undefined): boolean {
  if (wide === undefined) return true;
  if (narrow === undefined) return false;
  return narrow.every((m) => wide.includes(m));
}

function pathsCover(wide: readonly string[] | undefined, narrow: readonly string[] | undefined): boolean {
  if (wide === undefined) return true;
  if (narrow === undefined) return false;
  return narrow.every((p) => wide.some((w) => p.startsWith(w)));
}

const permissionsCover = (wide: NormalizedGrant, narrow: NormalizedGrant): boolean =>
  methodsCover(wide.methods, narrow.methods) && pathsCover(wide.paths, narrow.paths);

/** Prefix literals strictly above an ID or prefix literal: spiffe://td/a/b → spiffe://td/, spiffe://td/a/. */
function ancestorLiterals(literal: string): string[] {
  const out: string[] = [];
  const start = literal.indexOf('/', 'spiffe://'.length);
  for (let slash = start; slash !== -1 && slash < literal.length - 1; slash = literal.indexOf('/', slash + 1)) {
    out.push(literal.slice(0, slash + 1));
  }
  return out;
}

function mergeIdentical(grants: readonly NormalizedGrant[]): NormalizedGrant[] {
  const byKey = new Map<string, NormalizedGrant>();
  for (const grant of grants) {
    const seen = byKey.get(grant.key);
    if (seen) seen.ids.push(...grant.ids);
    else byKey.set(grant.key, { ...grant, ids: [...grant.ids] });
  }
  return [...byKey.values()];
}

/**
 * Whether `other` makes `grant` unnecessary: same effect (redundant in the union), or a Deny
 * covering an Allow (dead). Never an Allow covering a Deny: the exception would be lost.
 */
const mayDrop = (grant: NormalizedGrant, other: NormalizedGrant): boolean => other.effect === grant.effect || other.effect === 'Deny';

/** Splits distinct grants into those that stay and the ids of those another single grant covers. */
function dropCovered(grants: readonly NormalizedGrant[]): { kept: NormalizedGrant[]; dropped: string[] } {
  const exactByCaller = new Map<string, NormalizedGrant[]>();
  const prefixByLiteral = new Map<string, NormalizedGrant[]>();
  for (const grant of grants) {
    const index = grant.kind === 'exact' ? exactByCaller : prefixByLiteral;
    const list = index.get(grant.literal);
    if (list) list.push(grant);
    else index.set(grant.literal, [grant]);
  }
  const kept: NormalizedGrant[] = [];
  const dropped: string[] = [];
  for (const grant of grants) {
    const sameCaller = (grant.kind === 'exact' ? exactByCaller : prefixByLiteral).get(grant.literal) ?? [];
    const candidates = [...sameCaller, ...ancestorLiterals(grant.literal).flatMap((l) => prefixByLiteral.get(l) ?? [])];
    if (candidates.some((other) => other !== grant && mayDrop(grant, other) && permissionsCover(other, grant))) dropped.push(...grant.ids);
    else kept.push(grant);
  }
  return { kept, dropped: dropped.sort() };
}

interface StatementShape {
  effect: GrantEffect;
  kind: 'exact' | 'prefix';
  methods: readonly string[] | undefined;
  paths: readonly string[] | undefined;
  callers: string[];
  ids: string[];
  sid: string;
}

function sidFor(effect: GrantEffect, kind: 'exact' | 'prefix', methods: readonly string[] | undefined, paths: readonly string[] | undefined): string {
  const base = `${effect}${kind === 'exact' ? 'Exact' : 'Prefix'}`;
  if (methods === undefined && paths === undefined) return `${base}All`;
  const digest = createHash('sha256').update(JSON.stringify([methods ?? null, paths ?? null])).digest('hex');
  return `${base}${digest.slice(0, 12)}`;
}

function groupStatements(grants: readonly NormalizedGrant[]): StatementShape[] {
  const groups = new Map<string, StatementShape>();
  for (const grant of grants) {
    const key = JSON.stringify([grant.effect, grant.kind, grant.methods ?? null, grant.paths ?? null]);
    const group = groups.get(key);
    if (group) {
      group.callers.push(grant.caller);
      group.ids.push(...grant.ids);
    } else {
      groups.set(key, {
        effect: grant.effect,
        kind: grant.kind,
        methods: grant.methods,
        paths: grant.paths,
        callers: [grant.caller],
        ids: [...grant.ids],
        sid: sidFor(grant.effect, grant.kind, grant.methods, grant.paths),
      });
    }
  }
  const shapes = [...groups.values()];
  for (const shape of shapes) {
    shape.callers = uniqueSorted(shape.callers);
    shape.ids = uniqueSorted(shape.ids);
  }
  return shapes.sort((a, b) => (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Emission

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** JSON with every object's keys sorted (code-point order) and no whitespace. */
export function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const oneOrMany = (values: readonly string[]): Json => (values.length === 1 ? (values[0] as string) : [...values]);

const FORBIDDEN_IN_VALUES = /[\p{Cc}"\\{}$?]/u;

/** Last line of defence: nothing a grant controls can carry a wildcard, a variable or JSON syntax. */
function assertSafeStatement(shape: StatementShape): void {
  const values = [...shape.callers, ...(shape.methods ?? []), ...(shape.paths ?? [])];
  for (const value of values) {
    if (FORBIDDEN_IN_VALUES.test(value)) throw new Error(`compilePolicy: unsafe value ${JSON.stringify(value)} reached the emitter`);
  }
  for (const caller of shape.callers) {
    const stars = caller.split('*').length - 1;
    if (shape.kind === 'exact' ? stars !== 0 : stars !== 1 || !caller.endsWith('/*')) {
      throw new Error(`compilePolicy: caller ${JSON.stringify(caller)} has a misplaced wildcard`);
    }
  }
  if ([...(shape.methods ?? []), ...(shape.paths ?? [])].some((v) => v.includes('*'))) {
    throw new Error('compilePolicy: a method or path carries a wildcard');
  }
}

function statementJson(shape: StatementShape, options: CompileOptions): Json {
  assertSafeStatement(shape);
  const equals: Record<string, Json> = {};
  const like: Record<string, Json> = {};
  if (shape.effect === 'Allow') {
    equals[CONDITION_KEYS.principalArn] = options.principalArn;
    if (options.issuerOu !== undefined) equals[CONDITION_KEYS.issuerOu] = options.issuerOu;
  }
  if (shape.kind === 'exact') equals[CONDITION_KEYS.sanUri] = oneOrMany(shape.callers);
  else like[CONDITION_KEYS.sanUri] = oneOrMany(shape.callers);
  if (shape.methods !== undefined) equals[CONDITION_KEYS.method] = oneOrMany(shape.methods);
  if (shape.paths !== undefined) like[CONDITION_KEYS.path] = oneOrMany(shape.paths.map((p) => `${p}*`));
  const condition: Record<string, Json> = {};
  if (Object.keys(equals).length > 0) condition.StringEquals = equals;
  if (Object.keys(like).length > 0) condition.StringLike = like;
  return {
    Sid: shape.sid,
    Effect: shape.effect,
    Principal: '*',
    Action: INVOKE_ACTION,
    Resource: `${options.serviceArn}/*`,
    Condition: condition,
  };
}

/** The deny for the sessions of revoked certificates (see the file comment). */
function revokedSessionsStatement(serials: readonly string[], options: CompileOptions): Json {
  for (const serial of serials) {
    if (!SERIAL_HEX.test(serial)) throw new Error(`compilePolicy: unsafe serial ${JSON.stringify(serial)} reached the emitter`);
  }
  return {
    Sid: REVOKED_SESSIONS_SID,
    Effect: 'Deny',
    Principal: '*',
    Action: INVOKE_ACTION,
    Resource: `${options.serviceArn}/*`,
    Condition: { StringLike: { [CONDITION_KEYS.userId]: oneOrMany(serials.map(revokedSessionPattern)) } },
  };
}

/** The aws:userid pattern of every session made with the certificate of this serial. */
export const revokedSessionPattern = (serial: string): string => `*:${serial}`;

/** What the revoked serials add to a policy, in bytes: the statement when there is one. */
function revokedBytes(serials: readonly string[]): number {
  if (serials.length === 0) return 0;
  return serials.reduce((sum, serial) => sum + Buffer.byteLength(JSON.stringify(revokedSessionPattern(serial)), 'utf8') + 1, 0);
}

/**
 * The policy for a service nobody may call. Lattice with AWS_IAM auth and no policy denies
 * everything too, but an explicit Deny is the better artifact: PutAuthPolicy needs a document (and
 * Trellis applies one per service, level-triggered), an "Allow nothing" statement cannot be written
 * in IAM, and an explicit Deny stays a deny even if the document is ever combined with allows
 * (pasted into another policy, or evaluated next to a service-network policy that allows).
 */
export const DENY_ALL_POLICY = canonicalJson({
  Version: '2012-10-17',
  Statement: [{ Sid: 'DenyAll', Effect: 'Deny', Principal: '*', Action: INVOKE_ACTION, Resource: '*' }],
});

/** Exact callers grouped by parent path, largest groups first: what a prefix grant could replace. */
function prefixSuggestions(grants: readonly NormalizedGrant[]): ErrorDetail[] {
  const counts = new Map<string, number>();
  for (const grant of grants) {
    // Only allows: a prefix replacing exact denies would deny more, not shrink what is allowed.
    if (grant.kind !== 'exact' || grant.effect !== 'Allow') continue;
    const parent = `${grant.literal.slice(0, grant.literal.lastIndexOf('/') + 1)}*`;
    counts.set(parent, (counts.get(parent) ?? 0) + 1);
  }
  const ranked = [...counts.entries()]
    .filter(([, n]) => n >= 2)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, 10);
  if (ranked.length === 0) {
    return [{ field: 'grants', rule: 'too-many-grants', message: 'no two exact grants share a parent path: remove grants or split the service' }];
  }
  return ranked.map(([prefix, n]) => ({
    field: 'grants',
    rule: 'use-prefix-grant',
    message: `${prefix} would replace ${n} exact grants (it also admits every other ID under ${prefix.slice(0, -1)})`,
  }));
}

export function compilePolicy(grants: readonly Grant[], options: CompileOptions): CompiledPolicy {
  validateOptions(options);
  const details: ErrorDetail[] = [];
  const normalized: NormalizedGrant[] = [];
  grants.forEach((grant, index) => {
    const n = normalizeGrant(grant, index, options.trustDomain, details);
    if (n) normalized.push(n);
  });
  if (details.length > 0) throw invalidGrant(details);

  const { kept, dropped } = dropCovered(mergeIdentical(normalized));
  // Nothing left to allow (no grant, only denies, or every allow denied): nobody may call.
  if (!kept.some((g) => g.effect === 'Allow')) {
    return { policy: DENY_ALL_POLICY, bytes: Buffer.byteLength(DENY_ALL_POLICY, 'utf8'), statements: 1, droppedAsCovered: dropped, statementGrants: { DenyAll: [] } };
  }
  const shapes = groupStatements(kept);
  const revoked = uniqueSorted(options.revokedSerials ?? []);
  const statements = shapes.map((s) => statementJson(s, options));
  if (revoked.length > 0) statements.push(revokedSessionsStatement(revoked, options));
  statements.sort((a, b) => {
    const sa = (a as { Sid: string }).Sid;
    const sb = (b as { Sid: string }).Sid;
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  });
  const policy = canonicalJson({ Version: '2012-10-17', Statement: statements });
  const bytes = Buffer.byteLength(policy, 'utf8');
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_POLICY_BYTES;
  if (bytes > maxBytes) {
    throw new TrellisError(
      'PolicyTooLarge',
      422,
      `the compiled auth policy is ${bytes} bytes, over the ${maxBytes}-byte Lattice auth policy limit; replace exact grants with prefix grants${revoked.length > 0 ? ` (${revoked.length} revoked certificates take ${revokedBytes(revoked)} bytes until they expire)` : ''}`,
      {
        details: [
          ...prefixSuggestions(kept),
          ...(revoked.length > 0 ? [{ field: 'revokedSerials', rule: 'revoked-certificates', message: `${revoked.length} revoked, unexpired certificates are denied in this policy (${revokedBytes(revoked)} bytes)` }] : []),
        ],
      },
    );
  }
  return {
    policy,
    bytes,
    statements: statements.length,
    droppedAsCovered: dropped,
    statementGrants: { ...Object.fromEntries(shapes.map((s) => [s.sid, s.ids])), ...(revoked.length > 0 ? { [REVOKED_SESSIONS_SID]: [] } : {}) },
  };
}
