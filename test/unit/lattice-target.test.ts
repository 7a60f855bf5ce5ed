import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler as billingHandler } from '../../functions/billing/handler';
import { handler as ratesHandler } from '../../functions/rates/handler';
import { logger } from '../../shared/logger';
import {
  identityClaims,
  isAuthenticatedCaller,
  jsonResponse,
  microsToDate,
  parseLatticeEvent,
  type LatticeRequest,
} from '../../shared/lattice/target-event';
import { createTargetHandler } from '../../shared/lattice/target-handler';
import { lambdaContext } from '../support/in-process-stack';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'lattice');
type Json = Record<string, unknown>;
/** A fresh copy per call, so no test can leak a mutation into another. */
const fixture = (name: string): Json => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Json;

const VPC = 'arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0b8276c84697e7339';
const SN = 'arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-0bf3f2882e9cc805a';
const BILLING_SVC = 'arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0a40eebed65f8d69c';
const BILLING_TG = 'arn:aws:vpc-lattice:us-west-2:123456789012:targetgroup/tg-6d0ecf831eec9f09';
const BILLING_HOST = 'billing-0a40eebed65f8d69c.7d67968.vpc-lattice-svcs.us-west-2.on.aws';

const ORDERS_RA_IDENTITY = {
  principal: 'arn:aws:iam::123456789012:assumed-role/trellis-workload/3a5f0c2e9b7d41c8a6e2f1b0d9c8e7a6',
  principalOrgID: 'o-a1b2c3d4e5',
  sessionName: '3a5f0c2e9b7d41c8a6e2f1b0d9c8e7a6',
  type: 'AWS_IAM',
  x509SanUri: 'spiffe://example.org/service/orders',
  x509SanDns: 'orders.example.org',
  x509SanNameCn: 'orders',
  x509SubjectCn: 'orders',
  x509IssuerOu: 'Trellis',
  sourceVpcArn: VPC,
};
const REVIEWS_IAM_IDENTITY = {
  principal: 'arn:aws:iam::123456789012:assumed-role/reviews-instance-role/i-0c7de02a688bde9f7',
  principalOrgID: 'o-a1b2c3d4e5',
  sessionName: 'i-0c7de02a688bde9f7',
  type: 'AWS_IAM',
  sourceVpcArn: VPC,
};
const BASE64_CALLER_IDENTITY = {
  principal: 'arn:aws:iam::123456789012:assumed-role/trellis-workload/7b2e4d6f8a1c3e5b7d9f0a2c4e6b8d1f',
  sessionName: '7b2e4d6f8a1c3e5b7d9f0a2c4e6b8d1f',
  type: 'AWS_IAM',
  x509SanUri: 'spiffe://example.org/service/orders',
  x509SubjectCn: 'orders',
  x509IssuerOu: 'Trellis',
  sourceVpcArn: VPC,
};

const ok = (message: string, identity: Json) => ({
  isBase64Encoded: false,
  statusCode: 200,
  statusDescription: '200 OK',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ message, identity }),
});
const FORBIDDEN = {
  isBase64Encoded: false,
  statusCode: 403,
  statusDescription: '403 Forbidden',
  headers: { 'Content-Type': 'application/json' },
  body: '{"message":"Forbidden: no authenticated caller identity"}',
};
const BAD_REQUEST = {
  isBase64Encoded: false,
  statusCode: 400,
  statusDescription: '400 Bad Request',
  headers: { 'Content-Type': 'application/json' },
  body: '{"message":"Bad Request: not a VPC Lattice event"}',
};

/**
 * Powertools writes each log item as one JSON line through its own node:console Console: INFO and below
 * to process.stdout, WARN and above to process.stderr (both reach CloudWatch). Lines are kept in order.
 */
function captureLogs(): { lines: () => Json[]; stdout: () => Json[]; stderr: () => Json[] } {
  const written: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    vi.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push({ stream, text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8') });
      return true;
    });
  }
  const parse = (only?: 'stdout' | 'stderr'): Json[] =>
    written
      .filter((w) => only === undefined || w.stream === only)
      .map((w) => w.text)
      .join('')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Json);
  return { lines: () => parse(), stdout: () => parse('stdout'), stderr: () => parse('stderr') };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseLatticeEvent', () => {
  it('normalises a V2 event from a Roles Anywhere SigV4 caller, every claim and the microsecond time', () => {
    expect(parseLatticeEvent(fixture('v2-roles-anywhere'))).toEqual({
      ok: true,
      request: {
        eventVersion: 'V2',
        method: 'GET',
        path: '/billing/invoices',
        headers: {
          host: [BILLING_HOST],
          'user-agent': ['aws-sdk-js/3.1142.0'],
          accept: ['application/json'],
          'x-amz-date': ['20230727T223959Z'],
          'x-amz-content-sha256': ['UNSIGNED-PAYLOAD'],
          'x-forwarded-for': ['10.0.1.23'],
        },
        query: {},
        body: Buffer.alloc(0),
        requestTime: new Date('2023-07-27T22:39:59.177Z'),
        identity: ORDERS_RA_IDENTITY,
        target: { serviceNetworkArn: SN, serviceArn: BILLING_SVC, targetGroupArn: BILLING_TG, region: 'us-west-2' },
      } satisfies LatticeRequest,
    });
  });

  it('keeps every value of V2 array headers and query parameters', () => {
    const result = parseLatticeEvent(fixture('v2-multi-value'));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.request.headers.accept).toEqual(['application/json', 'text/plain']);
    expect(result.request.headers['x-trellis-trace']).toEqual(['hop-1', 'hop-2', 'hop-3']);
    expect(result.request.query).toEqual({ currency: ['EUR', 'USD'], page: ['2'] });
    expect(result.request.requestTime).toEqual(new Date('2024-04-05T19:34:38.901Z'));
    expect(result.request.identity).toEqual(REVIEWS_IAM_IDENTITY);
  });

  it('decodes a base64 V2 body to its exact bytes', () => {
    const result = parseLatticeEvent(fixture('v2-base64-body'));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.request.method).toBe('POST');
    expect(result.request.body).toEqual(Buffer.concat([Buffer.from([0, 1, 2, 3, 0xfe, 0xff]), Buffer.from('{"invoice":"INV-1"}')]));
    expect(result.request.requestTime?.toISOString()).toBe('2023-07-27T22:40:01.500Z');
  });

  it('reads a plain-text V2 body as UTF-8 and an absent body as undefined', () => {
    const withText = { ...fixture('v2-roles-anywhere'), method: 'POST', body: '{"a":"é"}' };
    const withoutBody = fixture('v2-roles-anywhere');
    delete withoutBody.body;
    const text = parseLatticeEvent(withText);
    const none = parseLatticeEvent(withoutBody);
    expect(text.ok && text.request.body?.toString('utf8')).toBe('{"a":"é"}');
    expect(none.ok && none.request.body).toBeUndefined();
  });

  it('gives a V2 event without identity claims an empty identity', () => {
    const result = parseLatticeEvent(fixture('v2-no-identity'));
    expect(result.ok && result.request.identity).toEqual({ sourceVpcArn: VPC });
    const noIdentityObject = fixture('v2-no-identity');
    delete (noIdentityObject.requestContext as Json).identity;
    const bare = parseLatticeEvent(noIdentityObject);
    expect(bare.ok && bare.request.identity).toEqual({});
  });

  it('normalises a V1 snake_case event: single values, no time, no identity', () => {
    expect(parseLatticeEvent(fixture('v1'))).toEqual({
      ok: true,
      request: {
        eventVersion: 'V1',
        method: 'GET',
        path: '/billing/invoices',
        headers: { host: [BILLING_HOST], accept: ['application/json, text/plain'], 'x-forwarded-for': ['10.0.1.23'] },
        query: { currency: ['USD'], page: ['2'] },
        body: Buffer.alloc(0),
        requestTime: undefined,
        identity: {},
        target: undefined,
      } satisfies LatticeRequest,
    });
  });

  it('does not trust x-amzn-lattice-identity headers in a V1 event', () => {
    const v1 = fixture('v1');
    v1.headers = { ...(v1.headers as Json), 'x-amzn-lattice-identity': 'Principal=arn:aws:iam::123456789012:role/admin; SessionName=x' };
    const result = parseLatticeEvent(v1);
    expect(result.ok && result.request.identity).toEqual({});
  });

  it('decodes a base64 V1 body', () => {
    const result = parseLatticeEvent({ ...fixture('v1'), method: 'PUT', body: 'aGVsbG8=', is_base64_encoded: true });
    expect(result.ok && result.request.body?.toString('utf8')).toBe('hello');
  });

  it('lower-cases header names, merges two spellings of one header, and accepts string values in V2', () => {
    const event = { ...fixture('v2-multi-value'), headers: { Accept: 'text/html', accept: ['application/json'], 'X-Trace': ['a'] } };
    const result = parseLatticeEvent(event);
    expect(result.ok && result.request.headers).toEqual({ accept: ['text/html', 'application/json'], 'x-trace': ['a'] });
  });

  it('answers for "/" when a V2 event has no path', () => {
    const event = fixture('v2-roles-anywhere');
    delete event.path;
    const result = parseLatticeEvent(event);
    expect(result.ok && result.request.path).toBe('/');
  });

  it.each([
    ['null', null, ''],
    ['an array', [], ''],
    ['a string', 'GET /', ''],
    ['an empty object (V1 without raw_path)', {}, 'raw_path'],
    ['V2 without method', { ...fixture('v2-roles-anywhere'), method: undefined }, 'method'],
    ['an unknown version', { ...fixture('v2-roles-anywhere'), version: '3.0' }, 'version'],
    ['V2 without requestContext', { ...fixture('v2-roles-anywhere'), requestContext: undefined }, 'requestContext'],
    [
      'timeEpoch as a JSON number',
      { ...fixture('v2-roles-anywhere'), requestContext: { ...(fixture('v2-roles-anywhere').requestContext as Json), timeEpoch: 1690497599177430 } },
      'requestContext.timeEpoch',
    ],
    [
      'timeEpoch in seconds with a fraction',
      { ...fixture('v2-roles-anywhere'), requestContext: { ...(fixture('v2-roles-anywhere').requestContext as Json), timeEpoch: '1690497599.17' } },
      'requestContext.timeEpoch',
    ],
    [
      'timeEpoch past the range of a date',
      { ...fixture('v2-roles-anywhere'), requestContext: { ...(fixture('v2-roles-anywhere').requestContext as Json), timeEpoch: '9999999999999999999' } },
      'requestContext.timeEpoch',
    ],
    ['a numeric header value', { ...fixture('v2-roles-anywhere'), headers: { accept: [1] } }, 'headers.accept'],
    ['a claim that is not a string', { ...fixture('v2-roles-anywhere'), requestContext: { ...(fixture('v2-roles-anywhere').requestContext as Json), identity: { type: 7 } } }, 'requestContext.identity.type'],
    ['a body flagged base64 that is not base64', { ...fixture('v2-base64-body'), body: 'not base64!' }, 'body'],
    ['V1 without method', { raw_path: '/', headers: {} }, 'method'],
  ])('refuses %s', (_name, event, issuePath) => {
    const result = parseLatticeEvent(event);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path)).toContain(issuePath);
  });
});

describe('microsToDate', () => {
  it('truncates microseconds to milliseconds', () => {
    expect(microsToDate('1690497599177430')?.toISOString()).toBe('2023-07-27T22:39:59.177Z');
    expect(microsToDate('1999')?.getTime()).toBe(1);
    expect(microsToDate('0')?.getTime()).toBe(0);
  });

  it('keeps precision beyond 2^53 microseconds', () => {
    // 2^53 + 1 = 9007199254740993: as a JSON number this would round to ...992.
    expect(microsToDate('9007199254740993')?.getTime()).toBe(9007199254740);
  });

  it('returns undefined past the last representable date', () => {
    expect(microsToDate('8640000000000001000')).toBeUndefined();
    expect(microsToDate('8640000000000000000')?.toISOString()).toBe('+275760-09-13T00:00:00.000Z');
  });
});

describe('identityClaims and isAuthenticatedCaller', () => {
  it('keeps only the claims present, in the documented order, dropping null', () => {
    const claims = identityClaims({ sourceVpcArn: VPC, principal: 'p', type: 'AWS_IAM', sessionName: null });
    expect(Object.keys(claims)).toEqual(['principal', 'type', 'sourceVpcArn']);
  });

  it('reads the Powertools spellings only when the AWS doc spelling is absent', () => {
    expect(identityClaims({ X509SubjectCn: 'orders', principalOrgId: 'o-1', X509IssuerOu: 'T', X509SanNameCn: 'n' })).toEqual({
      principalOrgID: 'o-1',
      x509SanNameCn: 'n',
      x509SubjectCn: 'orders',
      x509IssuerOu: 'T',
    });
    expect(identityClaims({ x509SubjectCn: 'doc', X509SubjectCn: 'powertools' })).toEqual({ x509SubjectCn: 'doc' });
  });

  it.each([
    [{ type: 'AWS_IAM', principal: 'arn:aws:iam::1:role/r' }, true],
    [{ type: 'AWS_IAM' }, false],
    [{ type: 'AWS_IAM', principal: '' }, false],
    [{ type: 'NONE', principal: 'arn:aws:iam::1:role/r' }, false],
    [{ principal: 'arn:aws:iam::1:role/r' }, false],
    [{ sourceVpcArn: VPC }, false],
    [{}, false],
  ])('%j authenticated: %s', (identity, expected) => {
    expect(isAuthenticatedCaller(identity)).toBe(expected);
  });
});

describe('jsonResponse', () => {
  it.each([
    [200, '200 OK'],
    [400, '400 Bad Request'],
    [403, '403 Forbidden'],
    [500, '500 Internal Server Error'],
  ])('%i has statusDescription "%s"', (statusCode, description) => {
    expect(jsonResponse(statusCode, { a: 1 })).toEqual({
      isBase64Encoded: false,
      statusCode,
      statusDescription: description,
      headers: { 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
  });
});

describe('Billing and Rates Lambda targets', () => {
  it.each([
    ['Billing', billingHandler, 'billing', 'v2-roles-anywhere', 'HelloWorld from Billing Lambda', ORDERS_RA_IDENTITY],
    ['Rates', ratesHandler, 'rates', 'v2-roles-anywhere', 'HelloWorld from Rates Lambda', ORDERS_RA_IDENTITY],
    ['Billing', billingHandler, 'billing', 'v2-multi-value', 'HelloWorld from Billing Lambda', REVIEWS_IAM_IDENTITY],
    ['Rates', ratesHandler, 'rates', 'v2-multi-value', 'HelloWorld from Rates Lambda', REVIEWS_IAM_IDENTITY],
    ['Billing', billingHandler, 'billing', 'v2-base64-body', 'HelloWorld from Billing Lambda', BASE64_CALLER_IDENTITY],
    ['Rates', ratesHandler, 'rates', 'v2-base64-body', 'HelloWorld from Rates Lambda', BASE64_CALLER_IDENTITY],
  ])('%s greets the caller of %s.json and logs its claims once', async (_name, handler, service, name, message, identity) => {
    const logs = captureLogs();
    const info = vi.spyOn(logger, 'info');
    const event = fixture(name);
    const response = await handler(event, lambdaContext('target'));

    expect(response).toEqual(ok(message, identity));
    // The body's identity has exactly the claims in the event, no more.
    const sent = (event.requestContext as { identity: Json }).identity;
    expect(Object.keys(JSON.parse(response.body ?? '{}').identity).sort()).toEqual(Object.keys(sent).sort());

    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith('caller identity', {
      targetService: service,
      method: event.method,
      path: event.path,
      eventVersion: 'V2',
      requestTime: microsToDate((event.requestContext as { timeEpoch: string }).timeEpoch)?.toISOString(),
      identity,
    });
    const lines = logs.stdout();
    expect(lines).toHaveLength(1);
    expect(logs.stderr()).toEqual([]);
    expect(Object.keys(lines[0]?.identity as Json).sort()).toEqual(Object.keys(sent).sort());
  });

  it('writes the caller identity as ONE JSON line on stdout with every claim of a Roles Anywhere caller', async () => {
    const logs = captureLogs();
    await billingHandler(fixture('v2-roles-anywhere'), lambdaContext('billing'));
    const lines = logs.stdout();
    expect(lines).toHaveLength(1);
    expect(logs.lines()).toHaveLength(1);
    const line = lines[0] ?? {};
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'caller identity',
      targetService: 'billing',
      method: 'GET',
      path: '/billing/invoices',
      eventVersion: 'V2',
      requestTime: '2023-07-27T22:39:59.177Z',
    });
    expect(line.identity).toEqual(ORDERS_RA_IDENTITY);
    expect(typeof line.timestamp).toBe('string');
  });

  it('refuses a V2 event without identity with 403 and logs a warning with the same fields', async () => {
    const logs = captureLogs();
    const info = vi.spyOn(logger, 'info');
    const response = await billingHandler(fixture('v2-no-identity'), lambdaContext('billing'));
    expect(response).toEqual(FORBIDDEN);
    expect(info).not.toHaveBeenCalled();
    const lines = logs.stderr();
    expect(lines).toHaveLength(1);
    expect(logs.stdout()).toEqual([]);
    expect(lines[0]).toMatchObject({
      level: 'WARN',
      message: 'no authenticated caller identity',
      targetService: 'billing',
      method: 'GET',
      path: '/billing/invoices',
      eventVersion: 'V2',
      requestTime: '2023-07-27T22:40:00.000Z',
      identity: { sourceVpcArn: VPC },
    });
  });

  it('refuses a V1 event (no identity in V1) with 403 and logs it', async () => {
    const logs = captureLogs();
    const warn = vi.spyOn(logger, 'warn');
    const response = await ratesHandler(fixture('v1'), lambdaContext('rates'));
    expect(response).toEqual(FORBIDDEN);
    expect(warn).toHaveBeenCalledWith('no authenticated caller identity', {
      targetService: 'rates',
      method: 'GET',
      path: '/billing/invoices',
      eventVersion: 'V1',
      identity: {},
    });
    const lines = logs.stderr();
    expect(lines).toHaveLength(1);
    expect(logs.stdout()).toEqual([]);
    expect(lines[0]).toMatchObject({ level: 'WARN', message: 'no authenticated caller identity', eventVersion: 'V1', identity: {} });
    expect(lines[0]).not.toHaveProperty('requestTime');
  });

  it('refuses an IAM caller that is not AWS_IAM-authenticated (principal without type)', async () => {
    captureLogs();
    const event = fixture('v2-multi-value');
    const identity = (event.requestContext as { identity: Json }).identity;
    delete identity.type;
    expect(await ratesHandler(event, lambdaContext('rates'))).toEqual(FORBIDDEN);
  });

  it.each([
    ['null', null],
    ['an empty object', {}],
    ['a V2 event with a number timeEpoch', { ...fixture('v2-roles-anywhere'), requestContext: { ...(fixture('v2-roles-anywhere').requestContext as Json), timeEpoch: 1 } }],
    ['an API Gateway v2 event', { version: '2.0', routeKey: '$default', rawPath: '/', requestContext: { http: { method: 'GET' } } }],
  ])('answers 400 to %s and logs the issues', async (_name, event) => {
    const logs = captureLogs();
    expect(await billingHandler(event, lambdaContext('billing'))).toEqual(BAD_REQUEST);
    const lines = logs.stderr();
    expect(logs.stdout()).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'WARN', message: 'malformed VPC Lattice event', targetService: 'billing' });
    expect((lines[0]?.issues as unknown[]).length).toBeGreaterThan(0);
  });

  it('answers 500 instead of throwing when something inside fails', async () => {
    captureLogs();
    vi.spyOn(logger, 'info').mockImplementation(() => {
      throw new Error('log sink down');
    });
    expect(await billingHandler(fixture('v2-roles-anywhere'), lambdaContext('billing'))).toEqual({
      isBase64Encoded: false,
      statusCode: 500,
      statusDescription: '500 Internal Server Error',
      headers: { 'Content-Type': 'application/json' },
      body: '{"message":"Internal Server Error"}',
    });
  });

  it('never throws and answers only 200, 400 or 403 for arbitrary input', async () => {
    captureLogs();
    const handler = createTargetHandler({ serviceName: 'fuzz', displayName: 'Fuzz' });
    const base = fixture('v2-roles-anywhere');
    const mutatedEvent = fc.record({
      headers: fc.option(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.array(fc.string()), fc.integer()))),
      body: fc.option(fc.string()),
      isBase64Encoded: fc.option(fc.boolean()),
      method: fc.oneof(fc.constant('GET'), fc.string()),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), mutatedEvent.map((patch) => ({ ...base, ...patch }))), async (event) => {
        const response = await handler(event, lambdaContext('target'));
        expect([200, 400, 403]).toContain(response.statusCode);
        expect(response.headers).toEqual({ 'Content-Type': 'application/json' });
      }),
      { numRuns: 300 },
    );
  });

  it('adds the Lambda context (request id) to the log line when given one', async () => {
    const logs = captureLogs();
    const context = {
      functionName: 'trellis-dev-billing',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-west-2:123456789012:function:trellis-dev-billing',
      memoryLimitInMB: '256',
      awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    } as Context;
    await billingHandler(fixture('v2-roles-anywhere'), context);
    expect(logs.lines()[0]).toMatchObject({ function_request_id: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', message: 'caller identity' });
  });
});
