/** Checks real responses against docs/openapi.yaml (ajv), so the document cannot drift from the code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { expect } from 'vitest';
import { ROOT } from './in-process-stack';

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses?: Record<string, { $ref?: string; content?: { 'application/json'?: { schema: unknown } } }> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, { content: { 'application/json': { schema: unknown } } }> };
}

export const openApi = parse(readFileSync(join(ROOT, 'docs', 'openapi.yaml'), 'utf8')) as OpenApiDoc;

const ajv = new Ajv({ strict: false, allErrors: true });
const addFormats = addFormatsModule as unknown as (a: Ajv) => void;
addFormats(ajv);
ajv.addSchema({ components: openApi.components }, 'openapi');

const rewriteRefs = (schema: unknown): unknown =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as unknown;

/** The operations of the document as "METHOD /path". */
export function documentedRoutes(): string[] {
  const routes: string[] = [];
  for (const [path, ops] of Object.entries(openApi.paths)) {
    for (const method of Object.keys(ops)) if (method !== 'parameters') routes.push(`${method.toUpperCase()} ${path}`);
  }
  return routes.sort();
}

/** Asserts that `body` with `status` is a response the document declares for this operation. */
export function expectDocumentedResponse(method: string, resource: string, status: number, body: unknown): void {
  const op = openApi.paths[resource]?.[method.toLowerCase()];
  expect(op, `${method} ${resource} is documented`).toBeDefined();
  const response = op?.responses?.[String(status)];
  expect(response, `${method} ${resource} documents status ${status}`).toBeDefined();
  const resolved = response?.$ref ? openApi.components.responses[response.$ref.split('/').pop() ?? ''] : response;
  const schema = resolved?.content?.['application/json']?.schema;
  if (schema === undefined) {
    expect(body ?? '', `${method} ${resource} ${status} has no body`).toBe('');
    return;
  }
  const validate = ajv.compile(rewriteRefs(schema) as object);
  const ok = validate(body);
  expect(ok, `${method} ${resource} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}
