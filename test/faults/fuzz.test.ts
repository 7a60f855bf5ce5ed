/**
 * fast-check fuzzing: every HTTP route of serverless.yml through its real handler chain (Middy,
 * validation, the use cases, the stand-ins behind them) with arbitrary path parameters, queries,
 * headers and bodies (JSON of the right shape with hostile values, any JSON, and raw text), and
 * the SPIFFE ID and CSR parsers with arbitrary input. Proven: no 5xx, no crash, every answer a
 * status docs/openapi.yaml documents for the route, and every rejection a 4xx whose body is
 * {"error":{"code","message"}} as documented.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSpiffeId, parseWorkloadId, parseSpiffeIdPrefix } from '../../shared/spiffe/spiffe-id';
import { checkCsr } from '../../shared/svid/csr';
import { apiEvent, type ApiCall } from '../support/api-events';
import { ADMIN_ARN, startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { expectDocumentedResponse } from '../support/openapi';
import { createCsrPem } from '../unit/svid-test-ca';
import { params, report } from './params';

let stack: InProcessStack;
let routes: { functionKey: string; method: string; resource: string }[];
let validCsr: string;
beforeAll(async () => {
  stack = await startInProcessStack();
  const functions = stack.config.raw.functions as Record<string, { events?: { http?: { path: string; method: string } }[] }>;
  routes = Object.entries(functions).flatMap(([functionKey, fn]) =>
    (fn.events ?? []).filter((e) => e.http).map((e) => ({ functionKey, method: (e.http?.method ?? '').toUpperCase(), resource: `/${e.http?.path ?? ''}` })),
  );
  validCsr = await createCsrPem({ subject: 'CN=fuzz' });
});
afterAll(async () => {
  await stack?.stop();
});

const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('', ' ', '..', '%2e%2e', 'spiffe://example.org/service/a', 'spiffe://example.org/', 'spiffe://EXAMPLE.org/x', 'spiffe://example.org/a/../b', 'wl-' + '0'.repeat(32), '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', 'billing', 'rates', '*', 'spiffe://example.org/team/*', '\u0000', 'x'.repeat(3000)),
);
const value: fc.Arbitrary<unknown> = fc.oneof(hostile, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(hostile, { maxLength: 30 }), fc.dictionary(hostile, hostile, { maxKeys: 5 }));
const shaped = fc.record(
  {
    spiffeId: value,
    selectors: fc.oneof(value, fc.record({ awsPrincipalArns: fc.oneof(value, fc.array(fc.oneof(hostile, fc.constant('arn:aws:iam::111122223333:role/x')), { maxLength: 30 })) })),
    x509SvidTtlSeconds: value,
    dnsNames: value,
    csr: fc.oneof(value, fc.constant('VALID')),
    service: value,
    caller: value,
    methods: value,
    pathPrefixes: value,
    arn: value,
    queue: value,
    limit: value,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 5, arbitrary: shaped.map((b) => ({ body: b })) },
  { weight: 1, arbitrary: fc.jsonValue().map((b) => ({ body: b })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((raw) => ({ rawBody: raw, headers: { 'Content-Type': 'application/json' } })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }).map((raw) => ({ rawBody: raw, headers: { 'Content-Type': 'text/plain' } })) },
  { weight: 1, arbitrary: fc.constant({ rawBody: JSON.stringify({ csr: 'x'.repeat(70 * 1024) }), headers: { 'Content-Type': 'application/json' } }) },
  { weight: 1, arbitrary: fc.constant({}) },
);
const query = fc.dictionary(fc.constantFrom('limit', 'nextToken', 'service', 'caller', 'format', 'queue', 'spiffeId', 'x'), hostile, { maxKeys: 4 });
const caller = fc.constantFrom(ADMIN_ARN, 'arn:aws:iam::111122223333:role/orders', 'arn:aws:sts::111122223333:assumed-role/developer/alice', undefined);

describe('fuzzing', () => {
  it('every HTTP route: no 5xx, only documented statuses, every rejection {"error":{"code","message"}}', async () => {
    const statuses: Record<string, number> = {};
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(), hostile, query, body, caller, fc.option(hostile), async (pick, param, q, b, callerArn, ifMatch) => {
        const route = routes[pick % routes.length];
        if (route === undefined) return;
        const names = [...route.resource.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
        const withCsr = 'body' in b && b.body !== null && typeof b.body === 'object' && (b.body as { csr?: unknown }).csr === 'VALID' ? { body: { ...(b.body as object), csr: validCsr } } : b;
        const call: ApiCall = {
          method: route.method,
          resource: route.resource,
          path: Object.fromEntries(names.map((n) => [n, param])),
          query: q,
          ...(route.method === 'GET' || route.method === 'DELETE' ? {} : withCsr),
          ...(ifMatch === null ? {} : { headers: { ...('headers' in withCsr ? (withCsr.headers as Record<string, string>) : {}), 'If-Match': ifMatch } }),
          ...(callerArn === undefined ? {} : { callerArn }),
        };
        const result = (await stack.invoke(route.functionKey, apiEvent(call))) as { statusCode: number; headers?: Record<string, string>; body?: string };
        calls += 1;
        const key = `${route.method} ${route.resource} ${result.statusCode}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
        expect(result.statusCode, key).toBeLessThan(500);
        const json = (result.headers?.['Content-Type'] ?? '').startsWith('application/json');
        const parsed = json && result.body ? (JSON.parse(result.body) as unknown) : (result.body ?? '');
        if (json || result.statusCode >= 400) expectDocumentedResponse(route.method, route.resource, result.statusCode, parsed);
        if (result.statusCode >= 400) expect(parsed).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
      }),
      { numRuns: params.fuzzRuns },
    );
    report('HTTP fuzzing', { calls, routes: routes.length, '5xx': 0, 'distinct route/status pairs': Object.keys(statuses).length });
  });

  it('the SPIFFE ID parsers never throw and accept only what they can print back', () => {
    let runs = 0;
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.webUrl().map((u) => u.replace(/^https?/, 'spiffe'))), (input) => {
        runs += 1;
        const parsed = parseSpiffeId(input);
        if (parsed.ok) expect(parseSpiffeId(input).ok).toBe(true);
        parseWorkloadId(input, 'example.org');
        parseSpiffeIdPrefix(input, 'example.org');
      }),
      { numRuns: params.fuzzRuns * 10 },
    );
    report('SPIFFE ID parser fuzzing', { inputs: runs });
  });

  it('the CSR check never throws: any text is a CSR or a refusal with a reason', async () => {
    let runs = 0;
    const pemLike = fc.tuple(fc.constantFrom('CERTIFICATE REQUEST', 'CERTIFICATE', 'NEW CERTIFICATE REQUEST'), fc.uint8Array({ maxLength: 600 })).map(([label, bytes]) => `-----BEGIN ${label}-----\n${Buffer.from(bytes).toString('base64')}\n-----END ${label}-----\n`);
    const mutated = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
      const der = Buffer.from(validCsr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der[at % der.length] = byte;
      return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), pemLike, mutated), async (pem) => {
        runs += 1;
        const result = await checkCsr(pem, { spiffeId: 'spiffe://example.org/fuzz', dnsNames: [] });
        if (!result.ok) expect(result.reason).toMatch(/\S/);
      }),
      { numRuns: params.fuzzRuns * 3 },
    );
    report('CSR parser fuzzing', { inputs: runs });
  });
});
