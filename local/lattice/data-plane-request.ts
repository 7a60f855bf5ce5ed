/**
 * The pure parts of a local Lattice data-plane request: the IAM request the auth policy is evaluated
 * against (docs/aws-behaviour.md, "VPC Lattice auth policies › Policy language and evaluation"), the
 * Lattice 2.0 Lambda event ("VPC Lattice data plane › Lambda event"), the refusal text, and the
 * translation of the target's answer ("› Lambda response") into an HTTP response.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { INVOKE_ACTION } from '../../shared/policy/compiler';
import type { ContextValue, EvaluationRequest, EvaluationResult } from '../../shared/policy/evaluator';
import type { LatticeEventV2 } from '../../shared/lattice/target-event';
import { latticeIdentityFromTags } from '../roles-anywhere/session-tags';
import type { Caller } from './data-plane-auth';

export interface RequestFacts {
  method: string;
  /** The path as received, still percent-encoded, without the query string. */
  path: string;
  /** Query parameters (decoded), every value kept. */
  query: Record<string, string[]>;
  /** Lower-cased names, every value kept (node's headersDistinct). */
  headers: Record<string, string[]>;
  /** The listener's port. */
  port: number;
  sourceIp: string;
}

export interface ServiceFacts {
  name: string;
  arn: string;
  region: string;
  accountId: string;
  serviceNetworkArn?: string;
  /** e.g. arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0123…; none locally unless configured. */
  sourceVpcArn?: string;
}

/** The Invoke resource: `<service ARN><path>` (the path keeps its leading "/"); docs/aws-behaviour.md, "VPC Lattice auth policies › Policy language and evaluation". */
export const invokeResource = (serviceArn: string, path: string): string => `${serviceArn}${path}`;

export function parseQuery(rawQuery: string): Record<string, string[]> {
  const query: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) (query[key] ??= []).push(value);
  return query;
}

export function distinctHeaders(headers: IncomingHttpHeaders): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? [...value] : [value];
  }
  return out;
}

const vpcIdOf = (vpcArn: string): string | undefined => /:vpc\/(vpc-[0-9a-z]+)$/.exec(vpcArn)?.[1];
const accountOfArn = (arn: string): string | undefined => arn.split(':')[4];

/**
 * The request the auth policy judges. Condition keys (names as AWS spells them; the evaluator
 * compares them case-insensitively):
 * - aws:PrincipalArn = the ROLE ARN for a role session (what the compiler conditions on),
 *   aws:PrincipalType (AssumedRole / Anonymous), aws:PrincipalAccount, aws:PrincipalTag/<key>,
 *   aws:userid (`<role id>:<session name>`, the session name being the certificate serial: what the
 *   deny of a revoked certificate conditions on), aws:SourceIp, aws:SecureTransport;
 * - vpc-lattice-svcs:RequestMethod, RequestPath, RequestHeader/<name> (a string; repeated headers
 *   joined with ", " as HTTP allows), RequestQueryString/<key> (ArrayOfString), ServiceArn, Port
 *   (the local listener's port, where AWS would say 443), and ServiceNetworkArn, SourceVpc,
 *   SourceVpcOwnerAccount only when configured (no VPC exists locally).
 */
export function evaluationRequest(caller: Caller, service: ServiceFacts, request: RequestFacts): EvaluationRequest {
  const context: Record<string, ContextValue> = {
    'aws:SourceIp': request.sourceIp,
    'aws:SecureTransport': true,
    'vpc-lattice-svcs:RequestMethod': request.method,
    'vpc-lattice-svcs:RequestPath': request.path,
    'vpc-lattice-svcs:ServiceArn': service.arn,
    'vpc-lattice-svcs:Port': request.port,
  };
  if (caller.roleArn === undefined) {
    context['aws:PrincipalType'] = 'Anonymous';
  } else {
    context['aws:PrincipalArn'] = caller.roleArn;
    context['aws:PrincipalType'] = 'AssumedRole';
    if (caller.userId !== undefined) context['aws:userid'] = caller.userId;
    const account = accountOfArn(caller.roleArn);
    if (account !== undefined) context['aws:PrincipalAccount'] = account;
  }
  for (const [key, value] of Object.entries(caller.tags)) context[`aws:PrincipalTag/${key}`] = value;
  for (const [name, values] of Object.entries(request.headers)) context[`vpc-lattice-svcs:RequestHeader/${name}`] = values.join(', ');
  for (const [key, values] of Object.entries(request.query)) context[`vpc-lattice-svcs:RequestQueryString/${key}`] = values;
  if (service.serviceNetworkArn !== undefined) context['vpc-lattice-svcs:ServiceNetworkArn'] = service.serviceNetworkArn;
  if (service.sourceVpcArn !== undefined) {
    const vpcId = vpcIdOf(service.sourceVpcArn);
    const owner = accountOfArn(service.sourceVpcArn);
    if (vpcId !== undefined) context['vpc-lattice-svcs:SourceVpc'] = vpcId;
    if (owner !== undefined) context['vpc-lattice-svcs:SourceVpcOwnerAccount'] = owner;
  }
  return { principal: caller.principal, action: INVOKE_ACTION, resource: invokeResource(service.arn, request.path), context };
}

/**
 * The refusal text, in IAM's wording. Which form Lattice uses for an explicit deny is UNCONFIRMED;
 * IAM's own is "with an explicit deny in a service-based policy".
 */
export function accessDeniedMessage(principal: string, resource: string, decision: EvaluationResult['decision'] | 'NoPolicy'): string {
  const because =
    decision === 'ExplicitDeny'
      ? 'with an explicit deny in a service-based policy'
      : 'because no service-based policy allows the vpc-lattice-svcs:Invoke action';
  return `AccessDeniedException: User: ${principal} is not authorized to perform: ${INVOKE_ACTION} on resource: ${resource} ${because}`;
}

/** A target group ARN per (service, function), stable across restarts, in the model's format (tg- + 17). */
export function targetGroupArn(service: ServiceFacts, functionName: string): string {
  const id = createHash('sha256').update(`vpc-lattice-local/targetgroup/${service.accountId}/${service.name}/${functionName}`).digest('hex').slice(0, 17);
  return `arn:aws:vpc-lattice:${service.region}:${service.accountId}:targetgroup/tg-${id}`;
}

const TEXT_TYPES = /^(?:text\/[^;]+|application\/(?:json|xml|javascript))(?:\s*;.*)?$/i;

/**
 * Body encoding (docs/aws-behaviour.md, "VPC Lattice data plane › Lambda event"): text/*, application/json, application/xml and
 * application/javascript are passed as they are; everything else is base64. Decision where the docs are
 * terse: a body with a content-encoding (e.g. gzip) is base64 whatever its type, since its bytes are
 * not text; an empty body is "" (not base64).
 */
export function encodeBody(body: Buffer, headers: Record<string, string[]>): { body: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: '', isBase64Encoded: false };
  const type = headers['content-type']?.[0] ?? '';
  const encoded = headers['content-encoding'] !== undefined;
  if (!encoded && TEXT_TYPES.test(type.trim())) return { body: body.toString('utf8'), isBase64Encoded: false };
  return { body: body.toString('base64'), isBase64Encoded: true };
}

/** Microseconds since the epoch, as a decimal string (Lattice's `timeEpoch`). */
export const timeEpochMicros = (now: Date): string => (BigInt(now.getTime()) * 1000n).toString();

/**
 * The Lattice 2.0 event. `requestContext.identity` is filled as Lattice fills it for an authenticated
 * caller: type AWS_IAM, principal (the assumed-role session ARN), sessionName and the x509 claims
 * derived from the session's principal tags; a caller who came in by mTLS gets the same claims, since
 * it is the same session. Anonymous callers (authType NONE) get only sourceVpcArn, when known.
 * Lattice adds X-Forwarded-For to every request.
 * UNCONFIRMED, decided (docs/aws-behaviour.md, "Decisions where AWS is unconfirmed › Lattice
 * decisions"): the Lattice UG's example spells the principal `arn:aws:iam::<acct>:assumed-role/…`;
 * the session ARN STS and Roles Anywhere return (and IAM's denial messages use) is
 * `arn:aws:sts::<acct>:assumed-role/…`, and that is what is sent here, so the principal a target logs is
 * the one CreateSession returned and the one in a 403.
 */
export function latticeEvent(input: {
  caller: Caller;
  service: ServiceFacts;
  request: RequestFacts;
  body: Buffer;
  functionName: string;
  now: Date;
}): LatticeEventV2 {
  const { caller, service, request } = input;
  const headers = { ...request.headers, 'x-forwarded-for': [...(request.headers['x-forwarded-for'] ?? []), request.sourceIp] };
  const identity: Record<string, string> = {};
  if (service.sourceVpcArn !== undefined) identity.sourceVpcArn = service.sourceVpcArn;
  if (caller.roleArn !== undefined) {
    identity.type = 'AWS_IAM';
    identity.principal = caller.principal;
    if (caller.sessionName !== undefined) identity.sessionName = caller.sessionName;
    Object.assign(identity, latticeIdentityFromTags(caller.tags));
  }
  return {
    version: '2.0',
    path: request.path,
    method: request.method,
    headers,
    queryStringParameters: request.query,
    ...encodeBody(input.body, request.headers),
    requestContext: {
      ...(service.serviceNetworkArn === undefined ? {} : { serviceNetworkArn: service.serviceNetworkArn }),
      serviceArn: service.arn,
      targetGroupArn: targetGroupArn(service, input.functionName),
      identity,
      region: service.region,
      timeEpoch: timeEpochMicros(input.now),
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Lattice ignores these in a target's answer and computes Content-Length itself (docs/aws-behaviour.md, "VPC Lattice data plane › Lambda response"). */
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'transfer-encoding', 'content-length', 'keep-alive']);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The target's answer as HTTP, or undefined when it is not a Lattice response (Lattice answers 502 then).
 * Multi-value headers: an array value is sent as repeated headers (the JSON form is UNCONFIRMED).
 */
export function httpAnswerFromTarget(result: unknown): HttpAnswer | undefined {
  if (!isRecord(result)) return undefined;
  const { statusCode, headers, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return undefined;
  if (headers !== undefined && headers !== null && !isRecord(headers)) return undefined;
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[name] = value as string[];
    else return undefined;
  }
  const text = typeof body === 'string' ? body : '';
  return { status: statusCode, headers: out, body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}
