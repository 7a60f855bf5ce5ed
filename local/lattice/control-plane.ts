import { closeServer, listen, readBody } from '../http-server';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  cannotParse,
  conflict,
  fieldValidationFailed,
  internalServerError,
  LatticeApiError,
  resourceNotFound,
  unknownOperation,
  type FieldError,
  type LatticeResourceType,
} from './errors';
import { accessKeyIdOf, AUDITED_OPERATIONS, cloudTrailDetail, type AuditedOperation, type CloudTrailSink } from './cloudtrail';
import type { LatticeResourceKind } from './ids';
import { LatticeStore, type AuthType, type ServiceRecord } from './store';
import {
  AUTH_TYPES,
  checkAuthType,
  checkCertificateArn,
  checkClientToken,
  checkCustomDomainName,
  checkListQuery,
  checkPolicy,
  checkResourceIdentifier,
  checkServiceIdentifier,
  checkServiceName,
  checkTags,
  DEFAULT_MAX_POLICY_BYTES,
  isJsonObject,
  optionalString,
  type JsonObject,
} from './validation';

/**
 * Local stand-in for the VPC Lattice control plane: the REST-JSON (restJson1) operations Trellis calls, as
 * `@aws-sdk/client-vpc-lattice` sends them (paths and shapes checked against the client's schemas in
 * dist-cjs/index.js). Plain node:http: seven routes do not need a framework.
 * Request signatures are not checked (the SDK always signs; no credentials exist locally).
 *
 * Decisions on UNCONFIRMED behaviour:
 * - GetAuthPolicy on an existing resource without a policy answers 200 `{}`. A real service printed nothing and
 *   no error for `aws vpc-lattice get-auth-policy` on a service without a policy (aws-samples/
 *   amazon-eks-security-immersion-day, "Implement IAM based Service Authentication"), i.e. an empty 200 body.
 *   A resource that does not exist is ResourceNotFoundException.
 * - A path that matches no operation answers ValidationException reason `unknownOperation` (400): the model's
 *   ValidationExceptionReason enum has that value, and there is no UnknownOperationException in the model.
 * - An over-quota policy is ValidationException (see checkPolicy in validation.ts).
 * - DeleteAuthPolicy on a resource with no policy answers 204 (the operation is modeled idempotent).
 * - ListServices returns services in creation order; without maxResults it returns 10 per page (the real default is
 *   undocumented; a small page makes callers that forget to paginate fail here rather than in AWS).
 */

export type LatticeOperation =
  | 'PutAuthPolicy'
  | 'GetAuthPolicy'
  | 'DeleteAuthPolicy'
  | 'CreateService'
  | 'GetService'
  | 'ListServices'
  | 'UpdateService';

export interface LatticeEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default us-east-1. */
  region?: string;
  /** Default 111122223333. */
  accountId?: string;
  /** Services that exist at start, with authType AWS_IAM. Default ['billing', 'rates']. */
  services?: string[];
  /** Auth policy size quota in UTF-8 bytes. Default 10,000. */
  maxPolicyBytes?: number;
  /** JSON lines to stderr, one per request. Default off. */
  log?: boolean;
  /** Share a store with other local code (e.g. the data plane). Its region and account win. */
  store?: LatticeStore;
  /** Clock for timestamps of a store created here. */
  clock?: () => Date;
  /**
   * Access key ids that stand for an assumed role (key → IAM role ARN) in the CloudTrail events of
   * successful PutAuthPolicy / DeleteAuthPolicy / UpdateService calls; any other key is an IAM user
   * (local/lattice/cloudtrail.ts). The events go to the sink set with `setCloudTrailSink`.
   */
  assumedRoles?: Record<string, string>;
}

/** An error to answer instead of running an operation, for testing callers' retry and error paths. */
export interface InjectedFault {
  /** `*` matches every operation. */
  operation: LatticeOperation | '*';
  error: 'AccessDeniedException' | 'ThrottlingException' | 'InternalServerException';
  /** How many requests fail. Default 1 (Infinity with `rate`). */
  times?: number;
  /** Each matching request fails with this probability (0..1) instead of always (the fault suite's 5%). */
  rate?: number;
  /** Sent as `Retry-After` (ThrottlingException, InternalServerException). */
  retryAfterSeconds?: number;
}

export interface LatticeEmulator {
  /** `http://host:port`, for the SDK client's `endpoint`. */
  endpoint: string;
  store: LatticeStore;
  injectFault(fault: InjectedFault): void;
  /** Drops every injected fault. */
  clearFaults(): void;
  /** Requests answered with an injected fault so far. */
  injectedFaults(): number;
  /**
   * Where the CloudTrail events of successful write calls go (the local bus's default bus), or
   * undefined for nowhere. Set once the bus runs; the call answers after the sink accepted the event.
   */
  setCloudTrailSink(sink: CloudTrailSink | undefined): void;
  stop(): Promise<void>;
}

interface RequestContext {
  labels: Readonly<Record<string, string>>;
  query: URLSearchParams;
  body: JsonObject;
  store: LatticeStore;
  maxPolicyBytes: number;
}

interface Reply {
  status: number;
  body?: JsonObject;
}

type Handler = (ctx: RequestContext) => Reply;

interface Route {
  method: string;
  /** Literal segments, or `{label}` for a path label. */
  segments: readonly string[];
  operation: LatticeOperation;
}

const ROUTES: readonly Route[] = [
  { method: 'PUT', segments: ['authpolicy', '{resourceIdentifier}'], operation: 'PutAuthPolicy' },
  { method: 'GET', segments: ['authpolicy', '{resourceIdentifier}'], operation: 'GetAuthPolicy' },
  { method: 'DELETE', segments: ['authpolicy', '{resourceIdentifier}'], operation: 'DeleteAuthPolicy' },
  { method: 'POST', segments: ['services'], operation: 'CreateService' },
  { method: 'GET', segments: ['services'], operation: 'ListServices' },
  { method: 'GET', segments: ['services', '{serviceIdentifier}'], operation: 'GetService' },
  { method: 'PATCH', segments: ['services', '{serviceIdentifier}'], operation: 'UpdateService' },
];

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_PAGE_SIZE = 10;

// ---- routing ----

/** Splits and percent-decodes the path: labels arrive encoded (an ARN as `arn%3Aaws%3A…%2Fsvc-…`). */
const pathSegments = (rawPath: string): string[] => {
  try {
    return rawPath.split('/').slice(1).map((segment) => decodeURIComponent(segment));
  } catch {
    throw cannotParse(`The request path ${rawPath} is not valid percent-encoding`);
  }
};

export const matchRoute = (
  method: string,
  segments: readonly string[],
): { operation: LatticeOperation; labels: Record<string, string> } | undefined => {
  for (const route of ROUTES) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    const labels: Record<string, string> = {};
    const matches = route.segments.every((pattern, i) => {
      const actual = segments[i] ?? '';
      if (pattern.startsWith('{')) {
        labels[pattern.slice(1, -1)] = actual;
        return actual.length > 0;
      }
      return pattern === actual;
    });
    if (matches) return { operation: route.operation, labels };
  }
  return undefined;
};

// ---- output shapes (members as in the SDK's *Response schemas; undefined members are dropped by JSON) ----

const createServiceOutput = (s: ServiceRecord): JsonObject => ({
  id: s.id,
  arn: s.arn,
  name: s.name,
  customDomainName: s.customDomainName,
  certificateArn: s.certificateArn,
  status: s.status,
  authType: s.authType,
  dnsEntry: s.dnsEntry,
});

const getServiceOutput = (s: ServiceRecord): JsonObject => ({
  id: s.id,
  name: s.name,
  arn: s.arn,
  createdAt: s.createdAt,
  lastUpdatedAt: s.lastUpdatedAt,
  dnsEntry: s.dnsEntry,
  customDomainName: s.customDomainName,
  certificateArn: s.certificateArn,
  status: s.status,
  authType: s.authType,
});

/** ServiceSummary carries no authType and no certificateArn. */
const serviceSummary = (s: ServiceRecord): JsonObject => ({
  id: s.id,
  name: s.name,
  arn: s.arn,
  createdAt: s.createdAt,
  lastUpdatedAt: s.lastUpdatedAt,
  dnsEntry: s.dnsEntry,
  customDomainName: s.customDomainName,
  status: s.status,
});

const updateServiceOutput = (s: ServiceRecord): JsonObject => ({
  id: s.id,
  arn: s.arn,
  name: s.name,
  customDomainName: s.customDomainName,
  certificateArn: s.certificateArn,
  authType: s.authType,
});

// ---- handlers ----

const RESOURCE_TYPE: Readonly<Record<LatticeResourceKind, LatticeResourceType>> = {
  service: 'SERVICE',
  servicenetwork: 'SERVICE_NETWORK',
  resourceconfiguration: 'RESOURCE_CONFIGURATION',
};

const notFound = (store: LatticeStore, identifier: string): LatticeApiError =>
  resourceNotFound(identifier, RESOURCE_TYPE[store.resourceKind(identifier) ?? 'service']);

const failIfAny = (errors: readonly FieldError[]): void => {
  if (errors.length > 0) throw fieldValidationFailed(errors);
};

const isAuthType = (value: string | undefined): value is AuthType => (AUTH_TYPES as readonly string[]).includes(value ?? '');

const label = (ctx: RequestContext, name: string): string => ctx.labels[name] ?? '';

/** Pagination token: opaque to callers (base64url JSON of the next offset), checked strictly on the way back. */
const encodeToken = (offset: number): string => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');

const decodeToken = (token: string, total: number): number => {
  const invalid = fieldValidationFailed([{ name: 'nextToken', message: 'The pagination token is invalid' }]);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw invalid;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const offset = isJsonObject(decoded) ? decoded.o : undefined;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 1 || offset > total) throw invalid;
  return offset;
};

const HANDLERS: Readonly<Record<LatticeOperation, Handler>> = {
  PutAuthPolicy: (ctx) => {
    const identifier = label(ctx, 'resourceIdentifier');
    const policy = optionalString(ctx.body, 'policy');
    failIfAny([...checkResourceIdentifier(identifier), ...checkPolicy(policy, ctx.maxPolicyBytes)]);
    const result = ctx.store.putAuthPolicy(identifier, policy ?? '');
    if (result === undefined) throw notFound(ctx.store, identifier);
    return { status: 200, body: { policy: result.policy, state: result.state } };
  },

  GetAuthPolicy: (ctx) => {
    const identifier = label(ctx, 'resourceIdentifier');
    failIfAny(checkResourceIdentifier(identifier));
    if (ctx.store.getService(identifier) === undefined) throw notFound(ctx.store, identifier);
    const view = ctx.store.getAuthPolicy(identifier);
    return {
      status: 200,
      body: view === undefined ? {} : { policy: view.policy, state: view.state, createdAt: view.createdAt, lastUpdatedAt: view.lastUpdatedAt },
    };
  },

  DeleteAuthPolicy: (ctx) => {
    const identifier = label(ctx, 'resourceIdentifier');
    failIfAny(checkResourceIdentifier(identifier));
    if (!ctx.store.deleteAuthPolicy(identifier)) throw notFound(ctx.store, identifier);
    return { status: 204 };
  },

  CreateService: (ctx) => {
    const name = optionalString(ctx.body, 'name');
    const authType = optionalString(ctx.body, 'authType');
    const clientToken = optionalString(ctx.body, 'clientToken');
    const customDomainName = optionalString(ctx.body, 'customDomainName');
    const certificateArn = optionalString(ctx.body, 'certificateArn');
    failIfAny([
      ...checkServiceName(name),
      ...checkAuthType(authType),
      ...checkClientToken(clientToken),
      ...checkCustomDomainName(customDomainName),
      ...checkCertificateArn(certificateArn),
      ...checkTags(ctx.body.tags),
    ]);
    const result = ctx.store.createService({
      name: name ?? '',
      authType: isAuthType(authType) ? authType : undefined,
      clientToken,
      customDomainName,
      certificateArn,
    });
    switch (result.outcome) {
      case 'created':
      case 'replayed':
        return { status: 201, body: createServiceOutput(result.service) };
      case 'nameTaken':
        throw conflict(`A service named ${result.service.name} already exists`, result.service.id, 'SERVICE');
      case 'tokenReused':
        throw conflict('The client token was already used for a different CreateService request', result.service.id, 'SERVICE');
    }
  },

  GetService: (ctx) => {
    const identifier = label(ctx, 'serviceIdentifier');
    failIfAny(checkServiceIdentifier(identifier));
    const service = ctx.store.getService(identifier);
    if (service === undefined) throw notFound(ctx.store, identifier);
    return { status: 200, body: getServiceOutput(service) };
  },

  ListServices: (ctx) => {
    const { query, errors } = checkListQuery(ctx.query);
    failIfAny(errors);
    const all = ctx.store.listServices();
    const start = query.nextToken === undefined ? 0 : decodeToken(query.nextToken, all.length);
    const end = start + (query.maxResults ?? DEFAULT_PAGE_SIZE);
    return {
      status: 200,
      body: { items: all.slice(start, end).map(serviceSummary), nextToken: end < all.length ? encodeToken(end) : undefined },
    };
  },

  UpdateService: (ctx) => {
    const identifier = label(ctx, 'serviceIdentifier');
    const authType = optionalString(ctx.body, 'authType');
    const certificateArn = optionalString(ctx.body, 'certificateArn');
    failIfAny([...checkServiceIdentifier(identifier), ...checkAuthType(authType), ...checkCertificateArn(certificateArn)]);
    const service = ctx.store.updateService(identifier, { authType: isAuthType(authType) ? authType : undefined, certificateArn });
    if (service === undefined) throw notFound(ctx.store, identifier);
    return { status: 200, body: updateServiceOutput(service) };
  },
};

// ---- CloudTrail ----

const isAudited = (operation: LatticeOperation): operation is AuditedOperation => (AUDITED_OPERATIONS as readonly string[]).includes(operation);

/** The request members CloudTrail records (the API's member names; the policy text is left out). */
const auditedParameters = (operation: AuditedOperation, labels: Readonly<Record<string, string>>, body: JsonObject): { [key: string]: string } => {
  switch (operation) {
    case 'PutAuthPolicy':
    case 'DeleteAuthPolicy':
      return { resourceIdentifier: labels.resourceIdentifier ?? '' };
    case 'UpdateService': {
      const authType = optionalString(body, 'authType');
      return { serviceIdentifier: labels.serviceIdentifier ?? '', ...(authType === undefined ? {} : { authType }) };
    }
  }
};

// ---- HTTP plumbing ----


const parseBody = (raw: Buffer | undefined): JsonObject => {
  if (raw === undefined) throw cannotParse(`The request body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw cannotParse('The request body is not valid JSON');
  }
  if (!isJsonObject(parsed)) throw cannotParse('The request body must be a JSON object');
  return parsed;
};

const send = (res: ServerResponse, status: number, body: JsonObject | undefined, headers: Record<string, string>): void => {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
};

const checkOptions = (options: LatticeEmulatorOptions): void => {
  if (options.accountId !== undefined && !/^\d{12}$/.test(options.accountId)) {
    throw new Error(`LatticeEmulatorOptions.accountId must be 12 digits, got ${options.accountId}`);
  }
  if (options.region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region)) {
    throw new Error(`LatticeEmulatorOptions.region is not a region name: ${options.region}`);
  }
  if (options.maxPolicyBytes !== undefined && !(Number.isInteger(options.maxPolicyBytes) && options.maxPolicyBytes > 0)) {
    throw new Error(`LatticeEmulatorOptions.maxPolicyBytes must be a positive integer, got ${options.maxPolicyBytes}`);
  }
  for (const name of options.services ?? []) {
    const errors = checkServiceName(name);
    if (errors.length > 0) throw new Error(`LatticeEmulatorOptions.services: ${name}: ${errors.map((e) => e.message).join('; ')}`);
  }
};

export const startLatticeControlPlane = async (options: LatticeEmulatorOptions): Promise<LatticeEmulator> => {
  checkOptions(options);
  const store =
    options.store ??
    new LatticeStore({ region: options.region ?? 'us-east-1', accountId: options.accountId ?? '111122223333', clock: options.clock });
  for (const name of options.services ?? ['billing', 'rates']) {
    if (store.getServiceByName(name) === undefined) store.createService({ name, authType: 'AWS_IAM' });
  }
  const maxPolicyBytes = options.maxPolicyBytes ?? DEFAULT_MAX_POLICY_BYTES;
  const faults: { fault: InjectedFault; remaining: number }[] = [];
  let injected = 0;
  let cloudTrail: CloudTrailSink | undefined;
  const assumedRoles = options.assumedRoles ?? {};

  const takeFault = (operation: LatticeOperation): LatticeApiError | undefined => {
    const index = faults.findIndex((f) => f.fault.operation === '*' || f.fault.operation === operation);
    const entry = faults[index];
    if (entry === undefined) return undefined;
    if (entry.fault.rate !== undefined && Math.random() >= entry.fault.rate) return undefined;
    injected += 1;
    entry.remaining -= 1;
    if (entry.remaining <= 0) faults.splice(index, 1);
    const { error, retryAfterSeconds } = entry.fault;
    return new LatticeApiError(error, { message: `Injected ${error} for ${operation}` }, retryAfterSeconds);
  };

  const log = (entry: Record<string, unknown>): void => {
    if (options.log === true) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'lattice-control-plane', ...entry })}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    let operation: LatticeOperation | undefined;
    let status: number;
    let errorType: string | undefined;
    try {
      const raw = await readBody(req, MAX_BODY_BYTES);
      const route = matchRoute(method, pathSegments(rawPath));
      if (route === undefined) throw unknownOperation(method, rawPath);
      operation = route.operation;
      const fault = takeFault(route.operation);
      if (fault !== undefined) throw fault;
      const hasBody = method === 'PUT' || method === 'POST' || method === 'PATCH';
      const reply = HANDLERS[route.operation]({
        labels: route.labels,
        query: new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1)),
        body: hasBody ? parseBody(raw) : {},
        store,
        maxPolicyBytes,
      });
      status = reply.status;
      if (cloudTrail !== undefined && status < 300 && isAudited(route.operation)) {
        // Before the answer, so a caller that sees its call succeed knows the event is on the bus.
        const detail = cloudTrailDetail(
          { operation: route.operation, accessKeyId: accessKeyIdOf(req.headers.authorization), requestParameters: auditedParameters(route.operation, route.labels, hasBody ? parseBody(raw) : {}), region: store.region, accountId: store.accountId, time: new Date() },
          assumedRoles,
        );
        // Best effort, as CloudTrail's delivery to EventBridge is: a failed emit does not fail the call.
        await cloudTrail(detail).catch((error: unknown) => log({ level: 'WARN', requestId, message: `CloudTrail event not delivered: ${error instanceof Error ? error.message : String(error)}` }));
      }
      send(res, reply.status, reply.body, { 'x-amzn-RequestId': requestId });
    } catch (caught) {
      let error: LatticeApiError;
      if (caught instanceof LatticeApiError) {
        error = caught;
      } else {
        error = internalServerError();
        log({ level: 'ERROR', requestId, message: caught instanceof Error ? (caught.stack ?? caught.message) : String(caught) });
      }
      status = error.status;
      errorType = error.errorType;
      const headers: Record<string, string> = { 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': error.errorType };
      if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
      send(res, error.status, { ...error.members }, headers);
    }
    log({ level: 'INFO', requestId, method, path: rawPath, operation, status, errorType, durationMs: Math.round(performance.now() - started) });
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  const { port, urlHost } = await listen(server, options.port, options.host);

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://${urlHost}:${port}`,
    store,
    clearFaults: () => {
      faults.splice(0);
    },
    injectedFaults: () => injected,
    setCloudTrailSink: (sink) => {
      cloudTrail = sink;
    },
    injectFault: (fault) => {
      faults.push({ fault, remaining: fault.times ?? (fault.rate === undefined ? 1 : Infinity) });
    },
    stop: () => {
      stopped ??= closeServer(server);
      return stopped;
    },
  };
};
