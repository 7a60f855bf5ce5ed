/** Registration API: parse, authorise, call the use case, answer. */
import { apiHandler, requireBody } from '../../shared/http/api';
import { requireAdmin } from '../../shared/http/caller';
import { pageBody, readPage } from '../../shared/http/page-token';
import { parseInput } from '../../shared/http/validation';
import { setting } from '../../shared/config';
import { toPublic, workloadSchemas } from '../../shared/workloads/model';
import { workloadDeps } from '../../shared/workloads/deps';
import { deleteWorkload, getWorkload, parseIfMatch, registerWorkload, updateWorkload } from '../../shared/workloads/service';

const schemas = workloadSchemas(setting('TRUST_DOMAIN'));
const pageTokenKey = setting('PAGE_TOKEN_KEY');
const deps = workloadDeps();

export const handler = apiHandler({
  'POST /workloads': async (req) => {
    requireAdmin(req.caller, 'register workloads');
    const workload = await registerWorkload(deps, parseInput(schemas.create, requireBody(req)));
    return { status: 201, body: workload, headers: { Location: `/workloads/${workload.id}`, ETag: `"${workload.revision}"` } };
  },

  'GET /workloads': async (req) => {
    const { limit, start } = readPage(req.query, pageTokenKey, 'workloads', { max: 100, fallback: 50 });
    const page = await deps.repo.list(limit, start);
    return { status: 200, body: pageBody(page.items.map(toPublic), page.lastKey, pageTokenKey, 'workloads') };
  },

  'GET /workloads/{id}': async (req) => {
    const workload = toPublic(await getWorkload(deps, req.params.id ?? ''));
    return { status: 200, body: workload, headers: { ETag: `"${workload.revision}"` } };
  },

  'PUT /workloads/{id}': async (req) => {
    requireAdmin(req.caller, 'change workloads');
    const revision = parseIfMatch(req.headers['if-match']);
    const input = parseInput(schemas.update, requireBody(req));
    const workload = await updateWorkload(deps, req.params.id ?? '', revision, input);
    return { status: 200, body: workload, headers: { ETag: `"${workload.revision}"` } };
  },

  'DELETE /workloads/{id}': async (req) => {
    requireAdmin(req.caller, 'delete workloads');
    await deleteWorkload(deps, req.params.id ?? '');
    return { status: 204 };
  },
});
