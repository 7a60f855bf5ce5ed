/** Services and grants API: parse, authorise, call the use case, answer. Reads are open to any IAM caller; changes need an administrator. */
import { apiHandler, requireBody, type ApiRequest } from '../../shared/http/api';
import { requireAdmin } from '../../shared/http/caller';
import { pageBody, readPage } from '../../shared/http/page-token';
import { parseInput } from '../../shared/http/validation';
import { setting } from '../../shared/config';
import { createGrant } from '../../shared/grants/create-grant';
import { previewCreateGrant, previewDeleteGrant } from '../../shared/grants/preview-change';
import { parseIfMatch, replaceGrantSet } from '../../shared/grants/replace-grant-set';
import { validationError } from '../../shared/errors';
import { grantSchemas, toPublicGrant, toPublicService } from '../../shared/grants/model';
import { deleteGrant, getGrant, getService, listGrants, listServices, registerService } from '../../shared/grants/service';
import { policyDeps } from '../../shared/policy-sync/deps';
import { describeServicePolicy } from '../../shared/policy-sync/policy-view';
import { explainDecision, parseDecisionQuery } from '../../shared/policy-sync/explain-decision';

const pageTokenKey = setting('PAGE_TOKEN_KEY');
const deps = policyDeps();

/** A query parameter, or undefined when absent or empty. */
const optionalQuery = (req: ApiRequest, name: string): string | undefined => {
  const value = req.query[name];
  return value === undefined || value === '' ? undefined : value;
};

/** `?dryRun=true` previews a change instead of making it; anything but true/false is a 400, never a silent real change. */
const isDryRun = (req: ApiRequest): boolean => {
  const value = req.query.dryRun;
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw validationError('dryRun is "true" or "false"', [{ field: 'dryRun', rule: 'boolean', message: 'is "true" (preview the change, write nothing) or "false"' }]);
};

export const handler = apiHandler({
  'GET /services': async (req) => {
    const { limit, start } = readPage(req.query, pageTokenKey, 'services', { max: 100, fallback: 50 });
    const page = await listServices(deps, limit, start);
    return { status: 200, body: pageBody(page.items.map(toPublicService), page.lastKey, pageTokenKey, 'services') };
  },

  'PUT /services/{name}': async (req) => {
    requireAdmin(req.caller, 'register services');
    const { arn } = parseInput(grantSchemas.registerService, requireBody(req));
    const { service, created } = await registerService(deps, req.params.name ?? '', arn);
    return { status: created ? 201 : 200, body: toPublicService(service) };
  },

  'GET /services/{name}/policy': async (req) => {
    const service = await getService(deps, req.params.name ?? '');
    return { status: 200, body: await describeServicePolicy(deps, service) };
  },

  'GET /services/{name}/decision': async (req) => {
    const query = parseDecisionQuery(req.query);
    const service = await getService(deps, req.params.name ?? '');
    return { status: 200, body: await explainDecision(deps, service, query) };
  },

  'PUT /services/{name}/grants': async (req) => {
    requireAdmin(req.caller, 'replace grant sets');
    const dryRun = isDryRun(req);
    const { grants } = parseInput(grantSchemas.grantSet, requireBody(req));
    const result = await replaceGrantSet(deps, req.params.name ?? '', grants, { ifMatch: parseIfMatch(req.headers['if-match']), dryRun });
    return { status: 200, body: result, headers: { ETag: `"${result.revision}"` } };
  },

  'POST /grants': async (req) => {
    requireAdmin(req.caller, 'create grants');
    const dryRun = isDryRun(req);
    const input = parseInput(grantSchemas.create, requireBody(req));
    if (dryRun) return { status: 200, body: await previewCreateGrant(deps, input) };
    const grant = await createGrant(deps, input);
    return { status: 201, body: grant, headers: { Location: `/grants/${grant.id}` } };
  },

  'GET /grants': async (req) => {
    const query = { service: optionalQuery(req, 'service'), caller: optionalQuery(req, 'caller') };
    // A token is only valid for the listing (filters) it was issued for.
    const scope = `grants:${JSON.stringify([query.service ?? null, query.caller ?? null])}`;
    const { limit, start } = readPage(req.query, pageTokenKey, scope, { max: 100, fallback: 50 });
    const page = await listGrants(deps, query, limit, start);
    return { status: 200, body: pageBody(page.items.map(toPublicGrant), page.lastKey, pageTokenKey, scope) };
  },

  'GET /grants/{id}': async (req) => ({ status: 200, body: toPublicGrant(await getGrant(deps, req.params.id ?? '')) }),

  'DELETE /grants/{id}': async (req) => {
    requireAdmin(req.caller, 'delete grants');
    if (isDryRun(req)) return { status: 200, body: await previewDeleteGrant(deps, req.params.id ?? '') };
    await deleteGrant(deps, req.params.id ?? '');
    return { status: 204 };
  },
});
