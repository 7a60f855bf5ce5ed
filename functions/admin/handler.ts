/** Admin API: the dead-letter queues, listed and re-driven, and the operations status. Administrators only. */
import * as z from 'zod';
import { adminDeps, statusDeps } from '../../shared/admin/deps';
import { operationsStatus } from '../../shared/audit/status';
import { setting } from '../../shared/config';
import { listDeadLetters } from '../../shared/admin/list-dead-letters';
import { redriveDeadLetters } from '../../shared/admin/redrive-dead-letters';
import { apiHandler } from '../../shared/http/api';
import { requireAdmin } from '../../shared/http/caller';
import { parseInput } from '../../shared/http/validation';

const deps = adminDeps();
const queueNames = deps.queues.names as [string, ...string[]];

const selection = z.strictObject({
  queue: z.enum(queueNames, { message: `must be one of ${queueNames.join(', ')}` }).optional(),
  limit: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100').default(100),
});

const status = statusDeps(deps.queues);
const pendingGraceSeconds = setting('SVID_PENDING_BOUND_SECONDS');
const statusQuery = z.strictObject({
  hours: z.coerce.number('must be a number of hours').gt(0, 'must be above 0').max(720, 'must be at most 720 (the audit trail keeps 30 days)').default(24),
});

const queuesOf = (queue: string | undefined): string[] => (queue === undefined ? [...queueNames] : [queue]);

export const handler = apiHandler({
  'GET /status': async (req) => {
    requireAdmin(req.caller, 'read the operations status');
    const { hours } = parseInput(statusQuery, req.query);
    return { status: 200, body: await operationsStatus(status, { hours, pendingGraceSeconds }) };
  },
  'GET /admin/dead-letters': async (req) => {
    requireAdmin(req.caller, 'read the dead-letter queues');
    const { queue, limit } = parseInput(selection, req.query);
    return { status: 200, body: await listDeadLetters(deps, { queues: queuesOf(queue), limit }) };
  },
  'POST /admin/dead-letters/redrive': async (req) => {
    requireAdmin(req.caller, 're-drive the dead-letter queues');
    const { queue, limit } = parseInput(selection, req.body ?? {});
    return { status: 200, body: await redriveDeadLetters(deps, { queues: queuesOf(queue), limit }) };
  },
});
