/**
 * The local VPC Lattice data plane: one HTTPS listener on 127.0.0.1 per managed service. For each
 * request it
 *  1. finds the service in the Lattice store (the control plane's state),
 *  2. authenticates the caller (data-plane-auth.ts: SigV4 with Roles Anywhere credentials, or mTLS with an
 *     X509-SVID; neither = anonymous),
 *  3. evaluates the service's CURRENT auth policy with Trellis's IAM evaluator for
 *     `vpc-lattice-svcs:Invoke` on `<service ARN><path>` (no policy = deny; authType NONE = no
 *     authentication and no policy, as Lattice skips both),
 *  4. allowed: invokes the target Lambda with a Lattice 2.0 event and returns its answer;
 *     denied: 403 `AccessDeniedException: User: … is not authorized …` and one JSON log line of the decision.
 * Not modelled: the caller's identity policy (Lattice requires it to allow too; the template gives the
 * workload role one), service-network policies, SigV4A, presigned URLs, Host-based routing.
 *
 * Responses the data plane makes itself are text/plain, with `x-amzn-ErrorType` on refusals (the exact
 * body and headers AWS sends for authentication failures are UNCONFIRMED; the AccessDeniedException text
 * for a policy denial follows IAM's wording).
 */
import { closeServer, listen, readBody } from '../http-server';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { evaluatePolicy, PolicyDocumentError, type EvaluationResult } from '../../shared/policy/evaluator';
import type { LatticeEventV2 } from '../../shared/lattice/target-event';
import type { CredentialStore } from '../roles-anywhere/credentials';
import { ANONYMOUS_CALLER, Authenticator, type AuthResult, type Caller } from './data-plane-auth';
import {
  accessDeniedMessage,
  distinctHeaders,
  evaluationRequest,
  httpAnswerFromTarget,
  invokeResource,
  latticeEvent,
  parseQuery,
  type HttpAnswer,
  type RequestFacts,
  type ServiceFacts,
} from './data-plane-request';
import { createServerTls } from './data-plane-tls';
import type { LatticeStore, ServiceRecord } from './store';

/** Runs a target function with an event and returns what it returned (or throws). */
export type LambdaInvoker = (functionName: string, event: LatticeEventV2) => Promise<unknown>;

export interface StartDataPlaneOptions {
  store: LatticeStore;
  /** Sessions issued by the local Roles Anywhere. */
  credentials: CredentialStore;
  /** CA certificate PEMs that client certificates must chain to (the local ACM PCA's CA). */
  trustBundle: () => string[];
  /** The stage's Roles Anywhere workload role (mTLS callers are sessions of it). */
  roleArn: string;
  invoke: LambdaInvoker;
  /** Lattice service name → target function name, e.g. { billing: 'trellis-local-billing' }. */
  services: Record<string, string>;
  /** Default 127.0.0.1. */
  host?: string;
  /** The first service listens here, the next on port + 1, …; 0 (default) picks free ports. */
  port?: number;
  /** Where the TLS CA PEM is written (lattice-data-plane-ca.pem). */
  stateDir: string;
  /** Clock for SigV4 dates, credential expiry and certificate validity (tests inject a fake one). */
  now?: () => Date;
  serviceNetworkArn?: string;
  sourceVpcArn?: string;
  /** true: JSON lines on stderr; a function receives each entry instead. Off by default. */
  log?: boolean | ((entry: Record<string, unknown>) => void);
}

export interface DataPlane {
  /** Service name → https://127.0.0.1:<port> */
  services: Record<string, string>;
  /** The CA that signed the listeners' certificate (pass as `ca` to clients). */
  caPem: string;
  /** Where caPem was written, for `curl --cacert`. */
  caFile: string;
  stop(): Promise<void>;
}

/** Lattice's request-body limit for Lambda targets (docs/aws-behaviour.md, "VPC Lattice data plane › Lambda event"). */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;
export const DECISION_LOG_MESSAGE = 'authorization decision';


function sendText(res: ServerResponse, status: number, text: string, errorType?: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
  });
  res.end(text);
}

const statementOf = (result: EvaluationResult): { index: number; sid?: string } | string =>
  result.decidingStatement ?? 'no statement matched';

export async function startDataPlane(options: StartDataPlaneOptions): Promise<DataPlane> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? (() => new Date());
  const { store } = options;
  const emit = (entry: Record<string, unknown>): void => {
    if (typeof options.log === 'function') options.log(entry);
    else if (options.log === true) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'lattice-data-plane', ...entry })}\n`);
  };
  const authenticator = new Authenticator({
    region: store.region,
    credentials: options.credentials,
    trustBundle: options.trustBundle,
    roleArn: options.roleArn,
    now,
  });

  const serviceFacts = (record: ServiceRecord): ServiceFacts => ({
    name: record.name,
    arn: record.arn,
    region: store.region,
    accountId: store.accountId,
    ...(options.serviceNetworkArn === undefined ? {} : { serviceNetworkArn: options.serviceNetworkArn }),
    ...(options.sourceVpcArn === undefined ? {} : { sourceVpcArn: options.sourceVpcArn }),
  });

  const logDecision = (fields: {
    service: ServiceFacts;
    request: RequestFacts;
    caller: Caller;
    policyVersion: number | undefined;
    decision: string;
    statement: unknown;
    status: number;
  }): void => {
    emit({
      level: fields.status < 400 ? 'INFO' : 'WARN',
      message: DECISION_LOG_MESSAGE,
      service: fields.service.name,
      serviceArn: fields.service.arn,
      method: fields.request.method,
      path: fields.request.path,
      caller: fields.caller.principal,
      authenticatedBy: fields.caller.authenticatedBy,
      tags: fields.caller.tags,
      policyVersion: fields.policyVersion ?? null,
      decision: fields.decision,
      statement: fields.statement,
      status: fields.status,
    });
  };

  const handle = async (serviceName: string, functionName: string, port: number, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const record = store.getServiceByName(serviceName);
    if (record === undefined) return sendText(res, 404, `NotFoundException: no VPC Lattice service named ${serviceName}`, 'NotFoundException');
    const service = serviceFacts(record);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const request: RequestFacts = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: q < 0 ? url : url.slice(0, q),
      query: parseQuery(q < 0 ? '' : url.slice(q + 1)),
      headers: distinctHeaders(req.headersDistinct),
      port,
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    };
    // The policy is matched against the path as sent, and a path prefix grant is a StringLike on it:
    // a path that a target could normalise elsewhere (/public/../admin, //, %2E, %2F) is refused
    // rather than judged. (Whether Lattice normalises first is not documented; refusing is the safe side.)
    if (/(^|\/)\.\.?(\/|$)|\/\/|%2[ef]/i.test(request.path)) {
      return sendText(res, 400, 'BadRequestException: the request path has dot segments, an empty segment or an encoded "." or "/"', 'BadRequestException');
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) return sendText(res, 413, `the request body exceeds ${MAX_BODY_BYTES} bytes`, 'PayloadTooLargeException');

    let caller: Caller = ANONYMOUS_CALLER;
    let policyVersion: number | undefined;
    if (record.authType === 'AWS_IAM') {
      const auth: AuthResult = await authenticator.authenticate(req);
      if (!auth.ok) {
        emit({ level: 'WARN', message: 'authentication failed', service: service.name, method: request.method, path: request.path, authenticatedBy: auth.authenticatedBy, reason: auth.reason, detail: auth.message });
        return sendText(res, 403, `AccessDeniedException: ${auth.message}`, 'AccessDeniedException');
      }
      caller = auth.caller;
      const policy = store.getAuthPolicy(record.arn);
      policyVersion = policy?.version;
      const resource = invokeResource(record.arn, request.path);
      if (policy === undefined) {
        logDecision({ service, request, caller, policyVersion: store.policyVersion(record.arn), decision: 'ImplicitDeny', statement: 'no auth policy attached', status: 403 });
        return sendText(res, 403, accessDeniedMessage(caller.principal, resource, 'NoPolicy'), 'AccessDeniedException');
      }
      let result: EvaluationResult;
      try {
        result = evaluatePolicy(policy.policy, evaluationRequest(caller, service, request));
      } catch (error) {
        if (!(error instanceof PolicyDocumentError)) throw error;
        logDecision({ service, request, caller, policyVersion, decision: 'ImplicitDeny', statement: `policy not evaluable: ${error.message}`, status: 403 });
        return sendText(res, 403, accessDeniedMessage(caller.principal, resource, 'NoPolicy'), 'AccessDeniedException');
      }
      if (result.decision !== 'Allow') {
        logDecision({ service, request, caller, policyVersion, decision: result.decision, statement: statementOf(result), status: 403 });
        return sendText(res, 403, accessDeniedMessage(caller.principal, resource, result.decision), 'AccessDeniedException');
      }
      logDecision({ service, request, caller, policyVersion, decision: 'Allow', statement: statementOf(result), status: 200 });
    }

    const event = latticeEvent({ caller, service, request, body, functionName, now: now() });
    let answer: HttpAnswer | undefined;
    try {
      answer = httpAnswerFromTarget(await options.invoke(functionName, event));
    } catch (error) {
      emit({ level: 'ERROR', message: 'target invocation failed', service: service.name, functionName, error: error instanceof Error ? error.message : String(error) });
      return sendText(res, 502, `Bad Gateway: the target ${functionName} failed`);
    }
    if (answer === undefined) {
      emit({ level: 'ERROR', message: 'target answered with something that is not a Lattice response', service: service.name, functionName });
      return sendText(res, 502, `Bad Gateway: the target ${functionName} did not answer with a Lattice response`);
    }
    res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
    res.end(answer.body);
  };

  const entries = Object.entries(options.services);
  const dnsNames = entries.flatMap(([name]) => {
    const record = store.getServiceByName(name);
    return record === undefined ? [] : [record.dnsEntry.domainName];
  });
  const tls = await createServerTls(options.stateDir, dnsNames);
  const servers: Server[] = [];
  const urls: Record<string, string> = {};
  const stop = async (): Promise<void> => {
    // A server that never started listening has nothing to close.
    await Promise.all(servers.map((server) => (server.listening ? closeServer(server) : Promise.resolve())));
  };

  try {
    for (const [index, [serviceName, functionName]] of entries.entries()) {
      // requestCert without rejectUnauthorized: the handshake succeeds with any certificate or none,
      // and the data plane decides per request (SigV4 callers need no certificate).
      const server = createServer({ key: tls.keyPem, cert: tls.certPem, requestCert: true, rejectUnauthorized: false });
      servers.push(server);
      const { port, urlHost } = await listen(server, options.port === undefined || options.port === 0 ? 0 : options.port + index, host);
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        handle(serviceName, functionName, port, req, res).catch((error: unknown) => {
          emit({ level: 'ERROR', message: 'data plane request failed', service: serviceName, error: error instanceof Error ? error.message : String(error) });
          if (!res.headersSent) sendText(res, 500, 'InternalServerException: the local data plane failed', 'InternalServerException');
          else res.destroy();
        });
      });
      urls[serviceName] = `https://${urlHost}:${port}`;
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return { services: urls, caPem: tls.caPem, caFile: tls.caFile, stop };
}
