import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { httpRoutes, loadServerlessConfig } from '../../local/serverless-config';
import { ROOT, startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { apiEvent, parseResult } from '../support/api-events';
import { documentedRoutes, expectDocumentedResponse } from '../support/openapi';

describe('docs/openapi.yaml', () => {
  let stack: InProcessStack;
  beforeAll(async () => {
    stack = await startInProcessStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('documents exactly the routes serverless.yml serves', () => {
    // (loaded once the stand-ins run: the local parameters name the local CA)
    const config = loadServerlessConfig(join(ROOT, 'serverless.yml'), 'local');
    expect(documentedRoutes()).toEqual(httpRoutes(config));
  });

  describe('against real responses', () => {

    it('matches the workload routes, success and error', async () => {
      const run = async (method: string, resource: string, args: Omit<Parameters<typeof apiEvent>[0], 'method' | 'resource'> = {}) => {
        const res = parseResult(await stack.invoke('workloads', apiEvent({ method, resource, ...args })));
        expectDocumentedResponse(method, resource, res.status, res.body);
        return res;
      };
      const created = await run('POST', '/workloads', { body: { spiffeId: 'spiffe://example.org/service/doc', selectors: { awsPrincipalArns: [] }, dnsNames: ['doc.internal'] } });
      expect(created.status).toBe(201);
      const id = (created.body as { id: string }).id;
      expect((await run('POST', '/workloads', { body: { spiffeId: 'spiffe://example.org/service/doc', selectors: { awsPrincipalArns: [] } } })).status).toBe(409);
      expect((await run('POST', '/workloads', { body: { spiffeId: 'nope', selectors: {} } })).status).toBe(400);
      expect((await run('GET', '/workloads', { query: { limit: '1' } })).status).toBe(200);
      expect((await run('GET', '/workloads/{id}', { path: { id } })).status).toBe(200);
      expect((await run('PUT', '/workloads/{id}', { path: { id }, body: { selectors: { awsPrincipalArns: [] } } })).status).toBe(428);
      expect((await run('PUT', '/workloads/{id}', { path: { id }, body: { selectors: { awsPrincipalArns: [] } }, headers: { 'If-Match': '"1"' } })).status).toBe(200);
      expect((await run('DELETE', '/workloads/{id}', { path: { id } })).status).toBe(204);
      expect((await run('GET', '/workloads/{id}', { path: { id } })).status).toBe(404);
    });
  });
});
