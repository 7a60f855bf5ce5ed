/**
 * A typed client of the Trellis control-plane API (docs/openapi.yaml). Against the local stack an
 * unsigned request acts as the local administrator; against a deployed stage (every route is
 * AWS_IAM) each request is signed with SigV4 for `execute-api` with credentials from the standard
 * AWS chain. API errors become {@link ApiError} carrying the API's code, message and details plus a
 * `fix`: what to do next.
 */
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { httpRequestFor } from './sigv4-request';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { WorkloadEdgeError } from './edge-error';
import { sendHttp, type HttpResponse } from './http-transport';

export const EXECUTE_API_SIGNING_NAME = 'execute-api';

/** One `details` item of an API error: the field, the rule it broke, and what is wrong. */
export interface ApiErrorDetail {
  field: string;
  rule: string;
  message: string;
}

/** An error from the control-plane API: its HTTP status and the API's error code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly fix: string | undefined;

  constructor(status: number, code: string, message: string, options: { details?: unknown; fix?: string } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.fix = options.fix;
  }
}

export interface WorkloadEntry {
  id: string;
  spiffeId: string;
  selectors: { awsPrincipalArns: string[] };
  x509SvidTtlSeconds: number;
  dnsNames: string[];
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export interface RegisterWorkloadInput {
  spiffeId: string;
  selectors: { awsPrincipalArns: string[] };
  x509SvidTtlSeconds?: number;
  dnsNames?: string[];
  csr?: string;
}

export interface UpdateWorkloadInput {
  selectors: { awsPrincipalArns: string[] };
  x509SvidTtlSeconds?: number;
  dnsNames?: string[];
}

export interface SvidRequestSummary {
  requestId: string;
  trigger: string;
  requestedAt: string;
  status: 'pending' | 'issued' | 'failed';
  failure?: { reason: string; message: string };
}

/** `POST /workloads/{id}/svid/revoke`: what was revoked, and until when the auth policies deny its sessions. */
export interface SvidRevocation {
  workloadId: string;
  spiffeId: string;
  serialNumber: string;
  reason: string;
  revocationReason: string;
  notAfter: string;
}

export interface CsrAccepted {
  workloadId: string;
  spiffeId: string;
  requestId: string;
  requestedAt: string;
  status: 'pending';
}

export interface IssuedSvid {
  workloadId: string;
  spiffeId: string;
  status: string;
  certificatePem: string;
  chainPem: string;
  trustBundlePem: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  renewAfter: string;
  latestRequest: SvidRequestSummary;
}

/** GET /workloads/{id}/svid: the SVID, or "still issuing" with the server's Retry-After (seconds). */
export type SvidState = { kind: 'issued'; svid: IssuedSvid } | { kind: 'pending'; retryAfterSeconds: number | undefined; message: string };

export interface Grant {
  id: string;
  service: string;
  caller: string;
  kind: 'exact' | 'prefix';
  /** Optional here only for APIs older than deny grants: absent means Allow. */
  effect?: 'Allow' | 'Deny';
  methods?: string[];
  pathPrefixes?: string[];
  createdAt: string;
}

export interface GrantInput {
  service: string;
  /** Default Allow; a Deny wins over every Allow it matches. */
  effect?: 'Allow' | 'Deny';
  caller: string;
  methods?: string[];
  pathPrefixes?: string[];
}

/** GET /services/{name}/decision (docs/openapi.yaml, DecisionExplanation). */
export interface DecisionExplanation {
  service: string;
  serviceArn: string;
  request: { caller: string; method: string; path: string };
  decision: 'ALLOW' | 'DENY';
  evaluation: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' | 'NoPolicy' | 'UnreadablePolicy';
  statement: { sid: string | null; index: number; effect: 'Allow' | 'Deny' } | null;
  reason: string;
  grants: Grant[];
  policyState: 'in-sync' | 'pending' | 'drifted' | 'over-quota';
  nearest: { grantId: string; differs: ('caller' | 'method' | 'path')[]; widened: { caller: string; methods?: string[]; pathPrefixes?: string[] }; segmentsUp: number }[];
  blockedBy: Grant[];
}

/** POST /grants?dryRun=true and DELETE /grants/{id}?dryRun=true (docs/openapi.yaml, GrantChangePreview). */
export interface GrantChangePreview {
  dryRun: true;
  change: 'create' | 'delete';
  grant: Grant;
  outcome: 'would-apply' | 'refused';
  error: { code: string; message: string } | null;
  policy: {
    before: { bytes: number; statements: number } | null;
    after: { bytes: number; statements: number; limit: number; fits: boolean };
    added: Record<string, unknown>[];
    removed: Record<string, unknown>[];
  };
  access: { changes: { caller: string; method: string; pathPrefix: string; before: 'ALLOW' | 'DENY'; after: 'ALLOW' | 'DENY' }[]; truncated: boolean };
}

/** PUT /services/{name}/grants (docs/openapi.yaml, GrantSetResult). */
export interface GrantSetResult {
  service: string;
  revision: string;
  changed: boolean;
  dryRun: boolean;
  created: Grant[];
  deleted: Grant[];
  policy: { added: Record<string, unknown>[]; removed: Record<string, unknown>[]; bytes: number; limit: number };
  access: GrantChangePreview['access'];
}

export interface ManagedService {
  name: string;
  arn: string;
  source: 'stage' | 'api';
  createdAt: string;
  updatedAt: string;
}

/** GET /services/{name}/policy: the compiled and the applied auth policy and the sync state. */
export interface ServicePolicy {
  service: string;
  serviceArn: string;
  state: 'in-sync' | 'pending' | 'drifted' | 'failed';
  grants: number;
  compiled: { policy: string | null; bytes: number; statements?: number; droppedAsCovered?: unknown; limit?: number; error?: { code: string; message: string; suggestions: string[] } };
  applied: { policy: string; bytes: number; state: string | null; lastUpdatedAt: string | null } | null;
  sync: { desiredVersion: number; appliedVersion: number | null; appliedAt: string | null; lastSync: unknown };
}

/** GET /status: the operations summary from the audit trail (the control plane's OperationsStatus). */
export interface StatusPercentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface OperationsStatus {
  window: { from: string; to: string; hours: number };
  events: Record<string, number>;
  svids: { issued: number; failed: number; failuresByReason: Record<string, number>; revokedByReason: Record<string, number>; timeToIdentityMs: StatusPercentiles; renewalLagSeconds: StatusPercentiles };
  policies: { applied: number; syncFailures: number; driftRepaired: number; grantToPolicyMs: StatusPercentiles; sizes: { service: string; bytes: number; quotaPercent: number }[] };
  stuck: {
    pendingSvidRequests: number;
    oldestPendingSeconds: number | null;
    pending: { workloadId: string; spiffeId: string; requestId: string; trigger: string; requestedAt: string; ageSeconds: number }[];
    deadLetters: Record<string, number>;
    policiesOutOfSync: { service: string; code: string; since: string; message: string }[];
  };
  healthy: boolean;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface TrellisApiOptions {
  /** The API base URL, e.g. http://127.0.0.1:3000/local or https://<id>.execute-api.<region>.amazonaws.com/<stage>. */
  baseUrl: string;
  region: string;
  /**
   * Sign every request with SigV4 (a deployed stage). `true` takes credentials from the standard
   * AWS chain; a provider can be passed instead (tests, or a caller with its own credentials).
   */
  sign?: boolean | AwsCredentialIdentityProvider;
  timeoutMs?: number;
  /** The transport (a test double); node:http(s) otherwise. */
  send?: typeof sendHttp;
}

interface RequestInput {
  query?: Record<string, string | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Trellis's workload id for a SPIFFE ID. The API derives the entry id from the SPIFFE ID
 * (`wl-` + the first 32 hex digits of its SHA-256; see README "Registration rules"), so a client can
 * address an entry by SPIFFE ID with one GET. {@link TrellisApi.findWorkload} falls back to listing
 * should the derivation ever change.
 */
export function workloadIdFor(spiffeId: string): string {
  return `wl-${createHash('sha256').update(spiffeId).digest('hex').slice(0, 32)}`;
}

/** What to do about an API error, for the codes a person meets in practice. */
export function fixFor(status: number, code: string, details: unknown): string | undefined {
  switch (code) {
    case 'ValidationFailed': {
      const items = Array.isArray(details) ? (details as Partial<ApiErrorDetail>[]) : [];
      const fields = items.map((d) => `${d.field ?? '?'} (${d.message ?? d.rule ?? 'invalid'})`);
      return fields.length === 0 ? 'correct the request as the message says' : `correct ${fields.join('; ')} and run the command again`;
    }
    case 'WorkloadExists':
      return 'the SPIFFE ID is already registered: see it with `trellis workloads get <spiffe-id>`, change it with `trellis workloads update`, or `trellis workloads delete` it first';
    case 'GrantExists':
      return 'the same grant already exists: see it with `trellis grants list --service <name>`';
    case 'RevisionMismatch':
    case 'PreconditionFailed':
      return 'the entry changed since its revision was read: re-read it (`trellis workloads get <id>`) and apply the change again';
    case 'PreconditionRequired':
      return 'send If-Match with the revision you read (`trellis workloads update` does this for you)';
    case 'Forbidden':
    case 'Unauthenticated':
      return 'the API refused the calling principal: changes need an administrator (the stage parameter admins, TRELLIS_ADMIN_ARNS at deploy), and a workload\'s CSR and SVID need a principal listed in its selectors.awsPrincipalArns; check which credentials the AWS chain picked (AWS_PROFILE, `aws sts get-caller-identity`)';
    case 'NotFound':
    case 'GrantNotFound':
    case 'ServiceNotFound':
      return 'check the name or id: `trellis workloads list`, `trellis grants list`, `trellis services list`';
    case 'SvidNotRequested':
      return 'submit a CSR first: `trellis svid fetch --spiffe-id <id> --out <dir>` makes the key and CSR';
    case 'SvidIssuanceFailed':
      return 'the CA refused this request; read the reason above, fix the registration (e.g. dnsNames) or the CSR, and fetch again';
    case 'PolicyTooLarge':
      return 'the service\'s auth policy would exceed the Lattice quota: replace exact grants with a prefix grant (spiffe://<trust-domain>/<path>/*)';
    case 'RouteNotFound':
      return 'the API has no such route: is --api the stage\'s base URL (ending in the stage name)?';
    default:
      return status >= 500 ? 'the control plane failed; retry, and if it persists look at the function logs (.trellis/logs/functions.log locally)' : undefined;
  }
}

const isErrorBody = (value: unknown): value is { error: { code: string; message: string; details?: unknown } } => {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
};

export class TrellisApi {
  private readonly baseUrl: string;
  private readonly region: string;
  private readonly signWith: AwsCredentialIdentityProvider | undefined;
  private readonly timeoutMs: number;
  private readonly transport: typeof sendHttp;

  constructor(options: TrellisApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.region = options.region;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.transport = options.send ?? sendHttp;
    if (options.sign === true) {
      // Loaded on first use: the credential chain is a large module tree that local commands never need.
      let provider: AwsCredentialIdentityProvider | undefined;
      this.signWith = async () => {
        if (provider === undefined) {
          const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
          provider = fromNodeProviderChain();
        }
        return provider();
      };
    } else if (typeof options.sign === 'function') {
      this.signWith = options.sign;
    } else {
      this.signWith = undefined;
    }
  }

  /** Sends one request; returns the raw response whatever its status (the typed methods interpret it). */
  async raw(method: string, path: string, input: RequestInput = {}): Promise<HttpResponse> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(input.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
    if (this.signWith !== undefined) headers = await this.sign(method, url, headers, body, await this.credentials());
    try {
      return await this.transport({ url, method, headers, ...(body === undefined ? {} : { body }), timeoutMs: this.timeoutMs });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const local = this.signWith === undefined;
      throw new WorkloadEdgeError(
        'ApiUnreachable',
        `cannot reach the Trellis API at ${this.baseUrl}: ${code ?? (error instanceof Error ? error.message : String(error))}`,
        local
          ? 'is the local stack running (`npm start`)? endpoints.json may be from an earlier run: restart it, or pass --endpoints/--api'
          : 'is --api the deployed stage\'s URL (https://<id>.execute-api.<region>.amazonaws.com/<stage>) and the network path open?',
        { cause: error },
      );
    }
  }

  private async credentials(): Promise<AwsCredentialIdentity> {
    try {
      // signWith is set whenever this is called (see raw).
      return await (this.signWith as AwsCredentialIdentityProvider)();
    } catch (error) {
      throw new WorkloadEdgeError(
        'NoAwsCredentials',
        `no AWS credentials to sign the API request with: ${error instanceof Error ? error.message : String(error)}`,
        'configure the standard AWS credential chain (AWS_PROFILE, environment variables, SSO login, instance role) for an administrator principal',
        { cause: error },
      );
    }
  }

  private async sign(method: string, url: URL, headers: Record<string, string>, body: string | undefined, credentials: AwsCredentialIdentity): Promise<Record<string, string>> {
    const request = httpRequestFor(url, method, headers, body);
    const signer = new SignatureV4({ service: EXECUTE_API_SIGNING_NAME, region: this.region, credentials, sha256: Sha256 });
    const signed = await signer.sign(request);
    return signed.headers;
  }

  /** Sends and parses JSON; a non-2xx answer throws ApiError with the API's code, message, details and a fix. */
  async request<T>(method: string, path: string, input: RequestInput = {}): Promise<{ status: number; headers: Record<string, string>; body: T }> {
    const res = await this.raw(method, path, input);
    if (res.status >= 200 && res.status < 300) {
      return { status: res.status, headers: res.headers, body: (res.body === '' ? undefined : parseJson(res.body)) as T };
    }
    throw toApiError(res);
  }

  async registerWorkload(input: RegisterWorkloadInput): Promise<WorkloadEntry> {
    return (await this.request<WorkloadEntry>('POST', '/workloads', { body: input })).body;
  }

  async listWorkloadsPage(options: { limit?: number; nextToken?: string } = {}): Promise<Page<WorkloadEntry>> {
    return (await this.request<Page<WorkloadEntry>>('GET', '/workloads', { query: pageQuery(options) })).body;
  }

  /** Every workload, following nextToken to the end. */
  async listWorkloads(): Promise<WorkloadEntry[]> {
    return this.collect((nextToken) => this.listWorkloadsPage({ limit: 100, ...(nextToken === undefined ? {} : { nextToken }) }));
  }

  async getWorkload(id: string): Promise<WorkloadEntry> {
    return (await this.request<WorkloadEntry>('GET', `/workloads/${encodeURIComponent(id)}`)).body;
  }

  /** A workload by entry id or by SPIFFE ID (the id derived from it, else a search of the list). */
  async findWorkload(idOrSpiffeId: string): Promise<WorkloadEntry> {
    if (!idOrSpiffeId.startsWith('spiffe://')) return this.getWorkload(idOrSpiffeId);
    try {
      return await this.getWorkload(workloadIdFor(idOrSpiffeId));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
    const found = (await this.listWorkloads()).find((w) => w.spiffeId === idOrSpiffeId);
    if (found === undefined) {
      throw new ApiError(404, 'NotFound', `no workload is registered with the SPIFFE ID ${idOrSpiffeId}`, {
        fix: `register it: trellis workloads register --spiffe-id ${idOrSpiffeId} --principal-arn <arn>`,
      });
    }
    return found;
  }

  /** PUT with If-Match: the revision the caller read. */
  async updateWorkload(id: string, revision: number, input: UpdateWorkloadInput): Promise<WorkloadEntry> {
    return (await this.request<WorkloadEntry>('PUT', `/workloads/${encodeURIComponent(id)}`, { body: input, headers: { 'if-match': `"${revision}"` } })).body;
  }

  async deleteWorkload(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/workloads/${encodeURIComponent(id)}`);
  }

  /** Revokes the workload's current SVID with an RFC 5280 reason (`keyCompromise`, `superseded`, …). */
  async revokeSvid(workloadId: string, reason: string): Promise<SvidRevocation> {
    return (await this.request<SvidRevocation>('POST', `/workloads/${encodeURIComponent(workloadId)}/svid/revoke`, { body: { reason } })).body;
  }

  async submitCsr(workloadId: string, csr: string): Promise<CsrAccepted> {
    return (await this.request<CsrAccepted>('POST', `/workloads/${encodeURIComponent(workloadId)}/csr`, { body: { csr } })).body;
  }

  /** The SVID, or `pending` (404 SvidPending, with Retry-After); 409 SvidIssuanceFailed and others throw ApiError. */
  async getSvid(workloadId: string): Promise<SvidState> {
    const res = await this.raw('GET', `/workloads/${encodeURIComponent(workloadId)}/svid`);
    if (res.status === 200) return { kind: 'issued', svid: parseJson(res.body) as IssuedSvid };
    const error = toApiError(res);
    if (error.code === 'SvidPending') {
      const header = res.headers['retry-after'];
      const seconds = header === undefined ? Number.NaN : Number(header);
      return { kind: 'pending', retryAfterSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined, message: error.message };
    }
    throw error;
  }

  /** The trust bundle, PEM. */
  async getBundle(): Promise<string> {
    const res = await this.raw('GET', '/bundle', { headers: { accept: 'application/x-pem-file' } });
    if (res.status !== 200) throw toApiError(res);
    return res.body;
  }

  async createGrant(input: GrantInput): Promise<Grant> {
    return (await this.request<Grant>('POST', '/grants', { body: input })).body;
  }

  async listGrantsPage(filter: { service?: string; caller?: string } = {}, options: { limit?: number; nextToken?: string } = {}): Promise<Page<Grant>> {
    return (await this.request<Page<Grant>>('GET', '/grants', { query: { service: filter.service, caller: filter.caller, ...pageQuery(options) } })).body;
  }

  async listGrants(filter: { service?: string; caller?: string } = {}): Promise<Grant[]> {
    return this.collect((nextToken) => this.listGrantsPage(filter, { limit: 100, ...(nextToken === undefined ? {} : { nextToken }) }));
  }

  async getGrant(id: string): Promise<Grant> {
    return (await this.request<Grant>('GET', `/grants/${encodeURIComponent(id)}`)).body;
  }

  async deleteGrant(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/grants/${encodeURIComponent(id)}`);
  }

  /** Replaces the service's grants with `grants` (only the difference is written); `ifMatch` is the grant revision read before. */
  async replaceGrantSet(service: string, grants: Omit<GrantInput, 'service'>[], options: { ifMatch?: string; dryRun?: boolean } = {}): Promise<GrantSetResult> {
    return (
      await this.request<GrantSetResult>('PUT', `/services/${encodeURIComponent(service)}/grants`, {
        body: { grants },
        ...(options.dryRun === true ? { query: { dryRun: 'true' } } : {}),
        ...(options.ifMatch === undefined ? {} : { headers: { 'if-match': `"${options.ifMatch}"` } }),
      })
    ).body;
  }

  /** What creating the grant would change; nothing is written. */
  async previewCreateGrant(input: GrantInput): Promise<GrantChangePreview> {
    return (await this.request<GrantChangePreview>('POST', '/grants', { body: input, query: { dryRun: 'true' } })).body;
  }

  /** What deleting the grant would change; nothing is deleted. */
  async previewDeleteGrant(id: string): Promise<GrantChangePreview> {
    return (await this.request<GrantChangePreview>('DELETE', `/grants/${encodeURIComponent(id)}`, { query: { dryRun: 'true' } })).body;
  }

  async listServicesPage(options: { limit?: number; nextToken?: string } = {}): Promise<Page<ManagedService>> {
    return (await this.request<Page<ManagedService>>('GET', '/services', { query: pageQuery(options) })).body;
  }

  async listServices(): Promise<ManagedService[]> {
    return this.collect((nextToken) => this.listServicesPage({ limit: 100, ...(nextToken === undefined ? {} : { nextToken }) }));
  }

  async getServicePolicy(service: string): Promise<ServicePolicy> {
    return (await this.request<ServicePolicy>('GET', `/services/${encodeURIComponent(service)}/policy`)).body;
  }

  /** The operations status of the last `hours` (administrators only). */
  async status(hours?: number): Promise<OperationsStatus> {
    return (await this.request<OperationsStatus>('GET', '/status', hours === undefined ? {} : { query: { hours: String(hours) } })).body;
  }

  /** Why a call of `caller` to the service is allowed or denied, from the policy Lattice has applied. */
  async explainDecision(service: string, request: { caller: string; method?: string; path?: string }): Promise<DecisionExplanation> {
    return (await this.request<DecisionExplanation>('GET', `/services/${encodeURIComponent(service)}/decision`, { query: { caller: request.caller, method: request.method, path: request.path } })).body;
  }

  private async collect<T>(page: (nextToken: string | undefined) => Promise<Page<T>>): Promise<T[]> {
    const items: T[] = [];
    let nextToken: string | undefined;
    do {
      const current = await page(nextToken);
      items.push(...current.items);
      nextToken = current.nextToken;
    } while (nextToken !== undefined);
    return items;
  }
}

const pageQuery = (options: { limit?: number; nextToken?: string }): Record<string, string | undefined> => ({
  limit: options.limit === undefined ? undefined : String(options.limit),
  nextToken: options.nextToken,
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WorkloadEdgeError('ApiAnswerInvalid', `the API answered with something that is not JSON: ${text.slice(0, 200)}`, 'is the API URL right (--api / endpoints.json)?');
  }
}

/** The ApiError of a non-2xx answer: the API's error body when it has one, else the HTTP status. */
export function toApiError(res: HttpResponse): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    parsed = undefined;
  }
  if (isErrorBody(parsed)) {
    const { code, message, details } = parsed.error;
    const fix = fixFor(res.status, code, details);
    return new ApiError(res.status, code, message, { ...(details === undefined ? {} : { details }), ...(fix === undefined ? {} : { fix }) });
  }
  // API Gateway's own refusals (e.g. a bad signature) carry {"message": "..."} instead.
  const message = typeof parsed === 'object' && parsed !== null && typeof (parsed as { message?: unknown }).message === 'string' ? (parsed as { message: string }).message : res.body.slice(0, 300);
  const code = res.status === 403 ? 'Forbidden' : res.status === 404 ? 'NotFound' : `Http${res.status}`;
  const fix = fixFor(res.status, code, undefined);
  return new ApiError(res.status, code, message || `HTTP ${res.status}`, fix === undefined ? {} : { fix });
}
