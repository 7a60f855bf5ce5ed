/** Helpers shared by the SVID integration tests (the in-process stack, real SDK clients, real crypto). */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { EventBridgeEvent } from '../../local/eventbridge/bus';
import { apiEvent, type ApiCall } from '../support/api-events';
import { ADMIN_ARN, type InProcessStack } from '../support/in-process-stack';
import { expectDocumentedResponse, openApi } from '../support/openapi';

export { ADMIN_ARN };
export const ORDERS_ROLE = 'arn:aws:iam::111122223333:role/orders';
export const OTHER_ROLE = 'arn:aws:iam::111122223333:role/reviews';

const exec = promisify(execFile);

export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text for other content types. */
  body: unknown;
}

/**
 * Invokes an API function of serverless.yml with an API Gateway event (as the administrator unless
 * `callerArn` says otherwise) and checks the answer against docs/openapi.yaml: JSON bodies against
 * the documented schema, other bodies (the PEM bundle) against the documented content type.
 */
export async function api(stack: InProcessStack, functionKey: string, call: ApiCall): Promise<Reply> {
  const result = (await stack.invoke(functionKey, apiEvent({ callerArn: ADMIN_ARN, ...call }))) as { statusCode: number; headers?: Record<string, string>; body?: string };
  const headers = result.headers ?? {};
  const json = (headers['Content-Type'] ?? '').startsWith('application/json');
  const reply = { status: result.statusCode, headers, body: result.body ? (json ? (JSON.parse(result.body) as unknown) : result.body) : undefined };
  if (typeof reply.body === 'string') {
    const documented = openApi.paths[call.resource]?.[call.method.toLowerCase()]?.responses?.[String(reply.status)] as { content?: Record<string, unknown> } | undefined;
    expect(Object.keys(documented?.content ?? {}), `${call.method} ${call.resource} ${reply.status} documents ${headers['Content-Type']}`).toContain(headers['Content-Type']);
  } else {
    expectDocumentedResponse(call.method, call.resource, reply.status, reply.body);
  }
  return reply;
}

export interface WorkloadBody {
  id: string;
  spiffeId: string;
  createdAt: string;
}

export async function register(stack: InProcessStack, spiffeId: string, extra: Record<string, unknown> = {}): Promise<WorkloadBody> {
  const res = await api(stack, 'workloads', {
    method: 'POST',
    resource: '/workloads',
    body: { spiffeId, selectors: { awsPrincipalArns: [ORDERS_ROLE] }, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as WorkloadBody;
}

export type BusEvent = EventBridgeEvent & { detail: Record<string, unknown> };

export async function eventsOf(stack: InProcessStack, detailType: string): Promise<BusEvent[]> {
  await stack.bus.waitForIdle(20_000);
  return stack.bus.events().filter((e) => e['detail-type'] === detailType) as BusEvent[];
}

/** The SvidIssued / SvidIssuanceFailed events that ended a request. */
export async function outcomesOf(stack: InProcessStack, requestId: string): Promise<BusEvent[]> {
  await stack.bus.waitForIdle(20_000);
  return stack.bus
    .events()
    .filter((e) => (e['detail-type'] === 'SvidIssued' || e['detail-type'] === 'SvidIssuanceFailed') && (e.detail as { requestId?: string }).requestId === requestId) as BusEvent[];
}

/** An EventBridge event as the rule hands it to a function (for direct, repeated deliveries). */
export function ruleEvent(detailType: string, detail: unknown): EventBridgeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: 'trellis',
    account: '111122223333',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  } as EventBridgeEvent;
}

/** An SVID request queue delivery of this SvidRequested detail, as Lambda's SQS event source hands it to the issuer. */
export function queueDelivery(detail: unknown, receiveCount = 1): { Records: Record<string, unknown>[] } {
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(ruleEvent('SvidRequested', detail)),
        attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: String(Date.now()), SenderId: '111122223333', ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:trellis-local-svid-requests',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

/** The issuer's outcome of a single-record delivery. */
export const outcomeOf = (result: unknown): unknown => (result as { outcomes?: unknown[] }).outcomes?.[0];

/** Runs openssl with files written to a temporary directory; returns stdout. */
export async function openssl(args: (string | { file: string; content: string })[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-openssl-'));
  try {
    const argv: string[] = [];
    for (const arg of args) {
      if (typeof arg === 'string') argv.push(arg);
      else {
        const path = join(dir, arg.file);
        await writeFile(path, arg.content);
        argv.push(path);
      }
    }
    const { stdout } = await exec('openssl', argv, { cwd: dir });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A P-256 key and CSR made by the openssl command line, as the README shows. */
export async function opensslCsr(subject: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-openssl-'));
  try {
    await exec('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-out', 'k.pem'], { cwd: dir });
    const { stdout } = await exec('openssl', ['req', '-new', '-key', 'k.pem', '-subj', subject], { cwd: dir });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
