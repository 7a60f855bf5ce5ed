/** Workload registration use cases: plain functions over the repository and the outbox. */
import { TrellisError, notFound } from '../errors';
import { pendingEvent } from '../events/catalog';
import type { Outbox } from '../outbox/outbox';
import { newSvidRequest, registrationRequestId, svidRequestedEvent } from '../svid/request';
import { WORKLOAD_ID_PATTERN, TTL_DEFAULT_SECONDS, toPublic, workloadIdFor, type CreateWorkloadInput, type UpdateWorkloadInput, type Workload } from './model';
import type { StoredWorkload } from './model';
import { WorkloadConflict, type WorkloadRepository } from './repository';

export interface WorkloadDeps {
  repo: WorkloadRepository;
  outbox: Outbox;
  now?: () => Date;
}

const clock = (deps: WorkloadDeps): Date => (deps.now ? deps.now() : new Date());

function checkId(id: string): void {
  if (!WORKLOAD_ID_PATTERN.test(id)) throw notFound('Workload', id);
}

async function flush(deps: WorkloadDeps, item: StoredWorkload): Promise<void> {
  await deps.outbox.flush({
    table: deps.repo.table,
    key: { id: item.id },
    events: item.pendingEvents ?? [],
    revision: item.revision,
    tombstone: item.tombstone === true,
  });
}

export async function registerWorkload(deps: WorkloadDeps, input: CreateWorkloadInput): Promise<Workload> {
  const now = clock(deps);
  const workload: Workload = {
    id: workloadIdFor(input.spiffeId),
    spiffeId: input.spiffeId,
    selectors: { awsPrincipalArns: input.selectors.awsPrincipalArns },
    x509SvidTtlSeconds: input.x509SvidTtlSeconds ?? TTL_DEFAULT_SECONDS,
    dnsNames: input.dnsNames ?? [],
    revision: 1,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const events = [pendingEvent('WorkloadRegistered', { workload }, now)];
  // A CSR given at registration is an SVID request, published from the same atomic write.
  if (input.csr) events.push(svidRequestedEvent(workload, newSvidRequest(input.csr, 'registration', now, registrationRequestId(workload.id, workload.createdAt)), now));
  try {
    await deps.repo.create(workload, input.csr ? { csr: input.csr } : {}, events, now);
  } catch (error) {
    if (error instanceof WorkloadConflict) {
      throw new TrellisError('WorkloadExists', 409, `${input.spiffeId} is already registered (entry ${workload.id}); update it with PUT /workloads/${workload.id} or delete it first`);
    }
    throw error;
  }
  await flush(deps, { ...workload, pendingEvents: events });
  return workload;
}

export async function getWorkload(deps: WorkloadDeps, id: string): Promise<StoredWorkload> {
  checkId(id);
  const item = await deps.repo.get(id);
  if (!item) throw notFound('Workload', id);
  return item;
}

export function parseIfMatch(header: string | undefined): number {
  if (header === undefined) {
    throw new TrellisError('PreconditionRequired', 428, 'Send the If-Match header with the revision you read (GET the entry, then If-Match: "<revision>")');
  }
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw new TrellisError('ValidationFailed', 400, 'If-Match must be a revision number, e.g. If-Match: "3"', { details: [{ field: 'If-Match', rule: 'format', message: 'must be a revision number' }] });
  return Number(m[1]);
}

export async function updateWorkload(deps: WorkloadDeps, id: string, expectedRevision: number, input: UpdateWorkloadInput): Promise<Workload> {
  const current = await getWorkload(deps, id);
  if (input.spiffeId !== undefined && input.spiffeId !== current.spiffeId) {
    throw new TrellisError('ValidationFailed', 400, 'spiffeId cannot change: the entry id is derived from it. Register the new SPIFFE ID and delete this entry.', {
      details: [{ field: 'spiffeId', rule: 'immutable', message: 'cannot change after registration' }],
    });
  }
  const now = clock(deps);
  const changes = {
    selectors: { awsPrincipalArns: input.selectors.awsPrincipalArns },
    x509SvidTtlSeconds: input.x509SvidTtlSeconds ?? TTL_DEFAULT_SECONDS,
    dnsNames: input.dnsNames ?? [],
    updatedAt: now.toISOString(),
  };
  const updated = await deps.repo.update(
    id,
    expectedRevision,
    changes,
    (revision) => [pendingEvent('WorkloadUpdated', { workload: { ...toPublic(current), ...changes, revision }, previousRevision: expectedRevision }, now)],
    now,
  );
  if (!updated) {
    const latest = await deps.repo.get(id);
    if (!latest) throw notFound('Workload', id);
    throw new TrellisError('RevisionMismatch', 412, `The entry is at revision ${latest.revision}, not ${expectedRevision}; GET it again and retry with If-Match: "${latest.revision}"`);
  }
  await flush(deps, updated);
  return toPublic(updated);
}

export async function deleteWorkload(deps: WorkloadDeps, id: string): Promise<void> {
  // A concurrent change between the read and the conditional write is retried, never lost.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const current = await getWorkload(deps, id);
    const now = clock(deps);
    const events = [pendingEvent('WorkloadDeleted', { workloadId: id, spiffeId: current.spiffeId, revision: current.revision + 1 }, now)];
    const deleted = await deps.repo.tombstone(id, current.revision, events, now);
    if (deleted) {
      await flush(deps, deleted);
      return;
    }
  }
  throw new TrellisError('ConcurrentModification', 409, `Workload ${id} kept changing while being deleted; retry`);
}
