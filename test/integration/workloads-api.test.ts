import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { apiEvent, parseResult, type ApiCall, type ApiResult } from '../support/api-events';

let stack: InProcessStack;
const call = async (c: ApiCall): Promise<ApiResult> => parseResult(await stack.invoke('workloads', apiEvent(c)));
const ORDERS = 'spiffe://example.org/service/orders';
const workloadBody = (spiffeId: string, extra: Record<string, unknown> = {}) => ({
  spiffeId,
  selectors: { awsPrincipalArns: ['arn:aws:iam::111122223333:role/orders'] },
  ...extra,
});

type ErrorBody = { error: { code: string; message: string; details?: { field: string; rule: string; message: string }[] } };

beforeAll(async () => {
  stack = await startInProcessStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function eventsOf(detailType: string): Promise<Record<string, unknown>[]> {
  await stack.bus.waitForIdle(5000);
  return stack.bus.events().filter((e) => e['detail-type'] === detailType) as unknown as Record<string, unknown>[];
}

describe('POST /workloads', () => {
  it('registers an entry, answers 201 with it, and emits WorkloadRegistered to the audit rule', async () => {
    const res = await call({ method: 'POST', resource: '/workloads', body: workloadBody(ORDERS, { dnsNames: ['orders.internal'] }) });
    expect(res.status).toBe(201);
    const body = res.body as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.stringMatching(/^wl-[0-9a-f]{32}$/),
      spiffeId: ORDERS,
      selectors: { awsPrincipalArns: ['arn:aws:iam::111122223333:role/orders'] },
      x509SvidTtlSeconds: 3600,
      dnsNames: ['orders.internal'],
      revision: 1,
      createdAt: expect.any(String),
      updatedAt: body.createdAt,
    });
    expect(res.headers.ETag).toBe('"1"');

    const events = await eventsOf('WorkloadRegistered');
    const mine = events.find((e) => (e.detail as { workload: { id: string } }).workload.id === body.id);
    expect(mine).toMatchObject({ source: 'trellis', detail: { schemaVersion: 1, workload: body } });
    // delivered by rule to the audit function, which recorded it
    const eventId = (mine?.detail as { eventId: string }).eventId;
    expect(stack.invocations.some((i) => i.functionKey === 'audit' && (i.event.detail as { eventId: string }).eventId === eventId)).toBe(true);
    // the outbox is cleared once published
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const stored = await db.send(new GetCommand({ TableName: 'trellis-local-workloads', Key: { id: body.id } }));
    expect(stored.Item?.pendingEvents).toBeUndefined();
    const audited = await db.send(new ScanCommand({ TableName: 'trellis-local-audit' }));
    expect(audited.Items?.some((i) => i.eventId === eventId && i.detailType === 'WorkloadRegistered')).toBe(true);
  });

  it('answers 409 for a SPIFFE ID already registered, also under concurrent requests', async () => {
    const id = 'spiffe://example.org/service/race';
    const results = await Promise.all(Array.from({ length: 8 }, () => call({ method: 'POST', resource: '/workloads', body: workloadBody(id) })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const conflicts = results.filter((r) => r.status === 409);
    expect(conflicts).toHaveLength(7);
    expect((conflicts[0]?.body as ErrorBody).error.code).toBe('WorkloadExists');
    expect(await eventsOf('WorkloadRegistered').then((es) => es.filter((e) => (e.detail as { workload: { spiffeId: string } }).workload.spiffeId === id))).toHaveLength(1);
  });

  it.each([
    ['scheme', { spiffeId: 'https://example.org/x' }, 'spiffeId', 'scheme'],
    ['trust domain', { spiffeId: 'spiffe://other.org/x' }, 'spiffeId', 'trust-domain-mismatch'],
    ['no path', { spiffeId: 'spiffe://example.org' }, 'spiffeId', 'path-required'],
    ['dot segment', { spiffeId: 'spiffe://example.org/a/../b' }, 'spiffeId', 'dot-segment'],
    ['too long for ACM PCA', { spiffeId: `spiffe://example.org/${'a'.repeat(240)}` }, 'spiffeId', 'san-max-length'],
    ['ttl too small', { x509SvidTtlSeconds: 10 }, 'x509SvidTtlSeconds', 'min'],
    ['ttl too big', { x509SvidTtlSeconds: 10_000_000 }, 'x509SvidTtlSeconds', 'max'],
    ['ttl not integer', { x509SvidTtlSeconds: 30.5 }, 'x509SvidTtlSeconds', 'type'],
    ['bad principal', { selectors: { awsPrincipalArns: ['orders'] } }, 'selectors.awsPrincipalArns.0', 'format'],
    ['unknown field', { color: 'blue' }, 'color', 'unknown-field'],
    ['unknown selector', { selectors: { awsPrincipalArns: [], k8s: 'x' } }, 'selectors.k8s', 'unknown-field'],
    ['bad dns', { dnsNames: ['Not A Name'] }, 'dnsNames.0', 'format'],
    ['csr not PEM', { csr: 'hello' }, 'csr', 'format'],
  ])('answers 400 naming the field and rule: %s', async (_name, patch, field, rule) => {
    const res = await call({ method: 'POST', resource: '/workloads', body: { ...workloadBody('spiffe://example.org/service/v'), ...patch } });
    expect(res.status).toBe(400);
    const { error } = res.body as ErrorBody;
    expect(error.code).toBe('ValidationFailed');
    expect(error.details).toContainEqual(expect.objectContaining({ field, rule }));
    expect(error.message).toContain(field);
  });

  it('names every invalid field at once, including missing required ones', async () => {
    const res = await call({ method: 'POST', resource: '/workloads', body: { x509SvidTtlSeconds: 1 } });
    expect(res.status).toBe(400);
    const fields = (res.body as ErrorBody).error.details?.map((d) => `${d.field}:${d.rule}`);
    expect(fields).toEqual(expect.arrayContaining(['spiffeId:required', 'selectors:required', 'x509SvidTtlSeconds:min']));
  });

  it('answers 413 over 64 KiB, 415 for a non-JSON content type, 400 for malformed JSON or no body', async () => {
    const big = JSON.stringify({ ...workloadBody('spiffe://example.org/big'), pad: 'x'.repeat(70_000) });
    expect((await call({ method: 'POST', resource: '/workloads', rawBody: big, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    const r415 = await call({ method: 'POST', resource: '/workloads', rawBody: 'spiffeId=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(r415.status).toBe(415);
    expect((r415.body as ErrorBody).error.code).toBe('UnsupportedMediaType');
    const r400 = await call({ method: 'POST', resource: '/workloads', rawBody: '{"spiffeId": ', headers: { 'Content-Type': 'application/json; charset=utf-8' } });
    expect(r400.status).toBe(400);
    expect((r400.body as ErrorBody).error.code).toBe('MalformedJson');
    expect(((await call({ method: 'POST', resource: '/workloads' })).body as ErrorBody).error.code).toBe('MissingBody');
  });

  it('answers 403 to a caller who is not an administrator, and registers nothing', async () => {
    const res = await call({ method: 'POST', resource: '/workloads', body: workloadBody('spiffe://example.org/service/sneaky'), callerArn: 'arn:aws:sts::111122223333:assumed-role/dev/alice' });
    expect(res.status).toBe(403);
    expect((res.body as ErrorBody).error.message).toContain('arn:aws:sts::111122223333:assumed-role/dev/alice');
    const list = await call({ method: 'GET', resource: '/workloads', query: { limit: '100' } });
    expect(JSON.stringify(list.body)).not.toContain('sneaky');
  });

});

describe('GET /workloads', () => {
  it('pages through every entry exactly once and refuses a tampered token', async () => {
    for (let i = 0; i < 5; i += 1) await call({ method: 'POST', resource: '/workloads', body: workloadBody(`spiffe://example.org/page/w${i}`) });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await call({ method: 'GET', resource: '/workloads', query: { limit: '2', ...(token ? { nextToken: token } : {}) } });
      expect(res.status).toBe(200);
      const body = res.body as { items: { spiffeId: string }[]; nextToken?: string };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((w) => w.spiffeId));
      token = body.nextToken;
      pages += 1;
    } while (token && pages < 50);
    const mine = seen.filter((s) => s.startsWith('spiffe://example.org/page/'));
    expect(mine.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `spiffe://example.org/page/w${i}`));
    expect(new Set(seen).size).toBe(seen.length);

    const first = (await call({ method: 'GET', resource: '/workloads', query: { limit: '1' } })).body as { nextToken: string };
    const [payload, mac] = first.nextToken.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ id: 'wl-00000000000000000000000000000000' })).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${payload}.${mac.slice(0, -2)}AA`, 'garbage', `${payload}`]) {
      const res = await call({ method: 'GET', resource: '/workloads', query: { nextToken: bad } });
      expect(res.status).toBe(400);
      expect((res.body as ErrorBody).error.code).toBe('InvalidNextToken');
    }
    expect((await call({ method: 'GET', resource: '/workloads', query: { limit: '0' } })).status).toBe(400);
    expect((await call({ method: 'GET', resource: '/workloads', query: { limit: '101' } })).status).toBe(400);
  });

  it('answers 404 for an absent entry', async () => {
    for (const id of ['wl-00000000000000000000000000000000', 'not-an-id']) {
      const res = await call({ method: 'GET', resource: '/workloads/{id}', path: { id } });
      expect(res.status).toBe(404);
      expect((res.body as ErrorBody).error.code).toBe('NotFound');
    }
  });
});

describe('PUT /workloads/{id}', () => {
  it('needs If-Match (428), refuses a stale revision (412), applies the current one and emits WorkloadUpdated', async () => {
    const created = (await call({ method: 'POST', resource: '/workloads', body: workloadBody('spiffe://example.org/service/rates') })).body as { id: string };
    const change = { ...workloadBody('spiffe://example.org/service/rates'), x509SvidTtlSeconds: 7200 };
    const noMatch = await call({ method: 'PUT', resource: '/workloads/{id}', path: { id: created.id }, body: change });
    expect(noMatch.status).toBe(428);
    const stale = await call({ method: 'PUT', resource: '/workloads/{id}', path: { id: created.id }, body: change, headers: { 'If-Match': '"7"' } });
    expect(stale.status).toBe(412);
    expect((stale.body as ErrorBody).error.message).toContain('revision 1');
    const ok = await call({ method: 'PUT', resource: '/workloads/{id}', path: { id: created.id }, body: change, headers: { 'If-Match': '"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: created.id, revision: 2, x509SvidTtlSeconds: 7200 });
    const again = await call({ method: 'PUT', resource: '/workloads/{id}', path: { id: created.id }, body: change, headers: { 'If-Match': '1' } });
    expect(again.status).toBe(412);
    const updated = (await eventsOf('WorkloadUpdated')).find((e) => (e.detail as { workload: { id: string } }).workload.id === created.id);
    expect(updated?.detail).toMatchObject({ previousRevision: 1, workload: { revision: 2, x509SvidTtlSeconds: 7200 } });
  });

  it('refuses to change the SPIFFE ID', async () => {
    const created = (await call({ method: 'POST', resource: '/workloads', body: workloadBody('spiffe://example.org/service/fixed') })).body as { id: string };
    const res = await call({ method: 'PUT', resource: '/workloads/{id}', path: { id: created.id }, body: workloadBody('spiffe://example.org/service/other'), headers: { 'If-Match': '1' } });
    expect(res.status).toBe(400);
    expect((res.body as ErrorBody).error.details).toContainEqual(expect.objectContaining({ field: 'spiffeId', rule: 'immutable' }));
  });
});

describe('DELETE /workloads/{id}', () => {
  it('answers 204, then 404, and emits WorkloadDeleted', async () => {
    const created = (await call({ method: 'POST', resource: '/workloads', body: workloadBody('spiffe://example.org/service/gone') })).body as { id: string };
    expect((await call({ method: 'DELETE', resource: '/workloads/{id}', path: { id: created.id } })).status).toBe(204);
    expect((await call({ method: 'GET', resource: '/workloads/{id}', path: { id: created.id } })).status).toBe(404);
    expect((await call({ method: 'DELETE', resource: '/workloads/{id}', path: { id: created.id } })).status).toBe(404);
    const deleted = (await eventsOf('WorkloadDeleted')).find((e) => (e.detail as { workloadId: string }).workloadId === created.id);
    expect(deleted?.detail).toMatchObject({ spiffeId: 'spiffe://example.org/service/gone', revision: 2 });
    // the SPIFFE ID can be registered again once the deletion is published
    expect((await call({ method: 'POST', resource: '/workloads', body: workloadBody('spiffe://example.org/service/gone') })).status).toBe(201);
  });
});
