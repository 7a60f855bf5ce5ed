/**
 * Grant and managed-service use cases: plain functions over the repositories and the outbox.
 * Every grant change is one conditional single-item write carrying GrantChanged in its outbox,
 * then a bump of the service's desiredVersion (so GET /services/{name}/policy reports the change
 * as pending at once; the policy sync bumps again when the event arrives, which covers a process
 * that died between the two writes), then the outbox flush.
 */
import { TrellisError } from '../errors';
import { pendingEvent } from '../events/catalog';
import { logger } from '../logger';
import type { Outbox } from '../outbox/outbox';
import type { GrantRepository } from './grant-repository';
import { checkServiceName, effectOfGrant, grantIdFor, validateGrantRules, grantKind, serviceOfGrantId, toPublicGrant, type Grant, type GrantInput, type GrantPage, type GrantQuery, type ManagedService, type StoredGrant, type StoredService } from './model';
import type { ServiceRepository } from './service-repository';

export interface ConfiguredService {
  name: string;
  arn: string;
}

export interface GrantsDeps {
  grants: GrantRepository;
  services: ServiceRepository;
  outbox: Outbox;
  /** The stage's managed services (MANAGED_SERVICES), seeded into the services table. */
  configured: readonly ConfiguredService[];
  trustDomain: string;
  now?: () => Date;
}

const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());

const serviceNotFound = (name: string): TrellisError =>
  new TrellisError('ServiceNotFound', 404, `Trellis manages no service named "${name}"; list them with GET /services, or register it with PUT /services/${name}`);

const grantNotFound = (id: string): TrellisError => new TrellisError('GrantNotFound', 404, `Grant ${id} does not exist`);

async function flushGrant(deps: GrantsDeps, item: StoredGrant): Promise<void> {
  await deps.outbox.flush({
    table: deps.grants.table,
    key: { service: item.service, id: item.id },
    events: item.pendingEvents ?? [],
    revision: item.revision,
    tombstone: item.tombstone === true,
  });
}

async function flushService(deps: GrantsDeps, item: StoredService): Promise<void> {
  await deps.outbox.flush({ table: deps.services.table, key: { name: item.name }, events: item.pendingEvents ?? [], revision: item.revision, tombstone: false });
}

/** Best effort: the sync bumps again on the event, so a failure here only delays the "pending" state. */
async function bumpDesiredVersion(deps: GrantsDeps, service: string): Promise<void> {
  try {
    await deps.services.bumpDesiredVersion(service);
  } catch (error) {
    logger.warn('could not bump desiredVersion; the policy sync will', { latticeService: service, error: error instanceof Error ? error.message : String(error) });
  }
}

// ---------------------------------------------------------------------------------------------
// Managed services

/**
 * Makes the services table hold the stage's configured services: creates missing ones and moves a
 * stage-sourced one to a new configured ARN (a service registered through the API is left alone).
 * Each such write carries ServiceRegistered, so the policy sync applies the service's policy.
 */
export async function seedConfiguredServices(deps: GrantsDeps): Promise<void> {
  for (const configured of deps.configured) {
    const current = await deps.services.get(configured.name);
    if (current && (current.source !== 'stage' || current.arn === configured.arn)) continue;
    const now = clock(deps);
    const events = [pendingEvent('ServiceRegistered', { service: configured.name, arn: configured.arn, previousArn: current?.arn ?? null }, now)];
    const stored = current
      ? await deps.services.update(configured.name, current.revision, { arn: configured.arn, source: 'stage' }, events, now)
      : await deps.services.create({ name: configured.name, arn: configured.arn, source: 'stage', createdAt: now.toISOString(), updatedAt: now.toISOString() }, events, now);
    // undefined: a concurrent cold start seeded it first.
    if (stored) await flushService(deps, stored);
  }
}

const seeded = new WeakMap<GrantsDeps, Promise<void>>();

/** {@link seedConfiguredServices} once per process and deps (retried on the next call if it failed). */
export function ensureConfiguredServices(deps: GrantsDeps): Promise<void> {
  let done = seeded.get(deps);
  if (!done) {
    done = seedConfiguredServices(deps).catch((error: unknown) => {
      seeded.delete(deps);
      throw error;
    });
    seeded.set(deps, done);
  }
  return done;
}

export async function getService(deps: GrantsDeps, name: string): Promise<StoredService> {
  checkServiceName(name);
  await ensureConfiguredServices(deps);
  const service = await deps.services.get(name);
  if (!service) throw serviceNotFound(name);
  return service;
}

export async function listServices(
  deps: GrantsDeps,
  limit: number,
  startKey: Record<string, unknown> | undefined,
): Promise<{ items: StoredService[]; lastKey?: Record<string, unknown> }> {
  await ensureConfiguredServices(deps);
  return deps.services.page(limit, startKey);
}

/**
 * One Lattice service is managed under one name: two names syncing the same ARN would overwrite
 * each other's policy, and one name's callers would reach the other's service.
 */
async function refuseArnOfAnotherService(deps: GrantsDeps, name: string, arn: string): Promise<void> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await deps.services.page(100, startKey);
    const other = page.items.find((s) => s.arn === arn && s.name !== name);
    if (other) throw new TrellisError('ServiceArnInUse', 409, `${arn} is already managed as service "${other.name}"; one Lattice service has one name`);
    startKey = page.lastKey;
  } while (startKey);
}

/** PUT /services/{name}: registers the service or points it at a new ARN (then source "api"). */
export async function registerService(deps: GrantsDeps, name: string, arn: string): Promise<{ service: ManagedService; created: boolean }> {
  checkServiceName(name);
  await ensureConfiguredServices(deps);
  await refuseArnOfAnotherService(deps, name, arn);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const now = clock(deps);
    const current = await deps.services.get(name);
    if (!current) {
      const events = [pendingEvent('ServiceRegistered', { service: name, arn, previousArn: null }, now)];
      const created = await deps.services.create({ name, arn, source: 'api', createdAt: now.toISOString(), updatedAt: now.toISOString() }, events, now);
      if (created) {
        await flushService(deps, created);
        return { service: created, created: true };
      }
      continue;
    }
    if (current.arn === arn && current.source === 'api') return { service: current, created: false };
    const events = current.arn === arn ? [] : [pendingEvent('ServiceRegistered', { service: name, arn, previousArn: current.arn }, now)];
    const updated = await deps.services.update(name, current.revision, { arn, source: 'api' }, events, now);
    if (updated) {
      await flushService(deps, updated);
      return { service: updated, created: false };
    }
  }
  throw new TrellisError('ConcurrentModification', 409, `Service ${name} kept changing while being registered; retry`);
}

// ---------------------------------------------------------------------------------------------
// Grants

/**
 * Writes a grant whose rules were checked and that is in canonical form (createGrant in
 * create-grant.ts is the API's use case): one conditional write carrying GrantChanged, the
 * desiredVersion bump, the outbox flush. A 409 when an identical grant exists.
 */
export async function storeGrant(deps: GrantsDeps, canonical: GrantInput): Promise<Grant> {
  const now = clock(deps);
  const grant: Grant = {
    id: grantIdFor(canonical),
    service: canonical.service,
    caller: canonical.caller,
    kind: grantKind(canonical.caller),
    effect: canonical.effect ?? 'Allow',
    ...(canonical.methods === undefined ? {} : { methods: canonical.methods }),
    ...(canonical.pathPrefixes === undefined ? {} : { pathPrefixes: canonical.pathPrefixes }),
    createdAt: now.toISOString(),
  };
  const events = [pendingEvent('GrantChanged', { service: grant.service, change: 'created', grant, cause: 'api' }, now)];
  const stored = await deps.grants.create(grant, events, now);
  if (!stored) {
    throw new TrellisError('GrantExists', 409, `An identical grant already exists: ${grant.id} (same service, effect, caller, methods and path prefixes)`);
  }
  await bumpDesiredVersion(deps, grant.service);
  await flushGrant(deps, stored);
  return toPublicGrant(grant);
}

export async function getGrant(deps: GrantsDeps, id: string): Promise<StoredGrant> {
  const service = serviceOfGrantId(id);
  const grant = service === undefined ? undefined : await deps.grants.get(service, id);
  if (!grant) throw grantNotFound(id);
  return grant;
}

/** DELETE /grants/{id}, and the removal of a deleted workload's grants. */
export async function deleteGrant(deps: GrantsDeps, id: string, cause: 'api' | 'workload-deleted' = 'api'): Promise<Grant> {
  // A concurrent change between the read and the conditional write is retried, never lost.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const current = await getGrant(deps, id);
    const now = clock(deps);
    const events = [pendingEvent('GrantChanged', { service: current.service, change: 'deleted', grant: toPublicGrant(current), cause }, now)];
    const deleted = await deps.grants.tombstone(current, events, now);
    if (deleted) {
      await bumpDesiredVersion(deps, current.service);
      await flushGrant(deps, deleted);
      return toPublicGrant(current);
    }
  }
  throw new TrellisError('ConcurrentModification', 409, `Grant ${id} kept changing while being deleted; retry`);
}

/** GET /grants: validates the filters (an unknown service is a 404) and reads one page. */
export async function listGrants(deps: GrantsDeps, query: GrantQuery, limit: number, startKey: Record<string, unknown> | undefined): Promise<GrantPage> {
  if (query.service !== undefined) await getService(deps, query.service);
  if (query.caller !== undefined) validateGrantRules({ service: query.service ?? 'any', caller: query.caller }, deps.trustDomain);
  return deps.grants.page(query, limit, startKey);
}

/**
 * WorkloadDeleted: deletes the allow grants whose caller is exactly the workload's SPIFFE ID (prefix
 * grants name no workload and stay). Deny grants stay too: they guard the ID, not the workload, and
 * a later registration of the same ID under an allowed prefix must still meet its exception. Each
 * deletion emits GrantChanged for its service.
 * CallerIndex is eventually consistent: a grant created in the same instant as the deletion may
 * survive; a second delivery of the event (at least once) or DELETE /grants/{id} removes it.
 * Grants created after `deletedAt` belong to a later registration of the same SPIFFE ID and stay.
 */
export async function removeWorkloadGrants(deps: GrantsDeps, spiffeId: string, deletedAt: string): Promise<Grant[]> {
  const removed: Grant[] = [];
  for (const grant of await deps.grants.allOfCaller(spiffeId)) {
    if (grant.caller !== spiffeId || grant.kind !== 'exact' || effectOfGrant(grant) === 'Deny') continue;
    // Granted after the deletion (to a workload registered again): a late or repeated event must not take it.
    if (grant.createdAt > deletedAt) continue;
    try {
      removed.push(await deleteGrant(deps, grant.id, 'workload-deleted'));
    } catch (error) {
      // Already deleted by someone else: nothing left to do for this one.
      if (error instanceof TrellisError && error.code === 'GrantNotFound') continue;
      throw error;
    }
  }
  return removed;
}
