/**
 * PUT /services/{name}/grants: the complete desired grant set of one service, applied in one
 * idempotent step. The set is checked whole (every grant's rules, 400 naming `grants[i].<field>`;
 * the compiled policy within the quota, else 422 and nothing written), compared with the current
 * grants by id (ids derive from the canonical grant, so equal grants are equal ids), and only the
 * difference is written. An unchanged set writes nothing and emits nothing.
 *
 * Order of writes, for one policy sync that sees the whole set: first the service item (its
 * desiredVersion bumped, GrantSetReplaced in its outbox), then each grant created or tombstoned
 * with its GrantChanged (cause `grant-set`, which the sync ignores), then the grant outboxes, and
 * the service outbox last. A process that dies midway leaves GrantSetReplaced for the outbox sweep,
 * so the sync still runs (on what was written), and repeating the PUT completes the set.
 * If-Match (the grant revision read before) is compared with the current set, not inside the
 * writes: two concurrent PUTs with the same If-Match can both pass; the later writes win per grant.
 */
import { TrellisError, validationError, type ErrorDetail } from '../errors';
import { pendingEvent } from '../events/catalog';
import { accessChanges, type AccessChange } from '../policy/access-changes';
import { DEFAULT_MAX_POLICY_BYTES } from '../policy/compiler';
import { compileSettingsNow, type RevocationStore } from '../policy-sync/revocations';
import { compileService, toCompilerGrant, type CompileSettings } from '../policy-sync/compile';
import {
  canonicalGrant,
  grantIdFor,
  grantKind,
  grantRevision,
  toPublicGrant,
  validateGrantRules,
  type Grant,
  type GrantInput,
  type StoredGrant,
} from './model';
import { diffStatements } from './preview-change';
import { getService, type GrantsDeps } from './service';

export interface GrantSetDeps extends GrantsDeps {
  compile: CompileSettings;
  /** The revoked certificates' deny counts against the quota too. */
  revocations?: RevocationStore;
}

export type DesiredGrant = Omit<GrantInput, 'service'>;

export interface GrantSetResult {
  service: string;
  /** The grant revision after the call (also the ETag). */
  revision: string;
  changed: boolean;
  dryRun: boolean;
  created: Grant[];
  deleted: Grant[];
  /** The statements added to and removed from the compiled policy. */
  policy: { added: Record<string, unknown>[]; removed: Record<string, unknown>[]; bytes: number; limit: number };
  access: { changes: AccessChange[]; truncated: boolean };
}

/** The revision in an If-Match value (`"<rev>"`, `W/"<rev>"` or bare); undefined for none or `*`. */
export function parseIfMatch(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return undefined;
  return header.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function checkDesired(service: string, desired: readonly DesiredGrant[], trustDomain: string): GrantInput[] {
  const details: ErrorDetail[] = [];
  const canonical: GrantInput[] = [];
  desired.forEach((grant, index) => {
    const input = { service, ...grant };
    try {
      validateGrantRules(input, trustDomain);
      canonical.push(canonicalGrant(input));
    } catch (error) {
      if (!(error instanceof TrellisError) || error.details === undefined) throw error;
      details.push(...error.details.map((d) => ({ ...d, field: `grants[${index}]${d.field === '(body)' ? '' : `.${d.field}`}` })));
    }
  });
  if (details.length > 0) throw validationError(`The grant set is invalid: ${details.map((d) => `${d.field}: ${d.message} (${d.rule})`).join('; ')}`, details);
  return canonical;
}

async function deleteForSet(deps: GrantsDeps, current: StoredGrant, now: Date): Promise<void> {
  let item: StoredGrant | undefined = current;
  for (let attempt = 0; attempt < 5 && item !== undefined; attempt += 1) {
    const events = [pendingEvent('GrantChanged', { service: item.service, change: 'deleted', grant: toPublicGrant(item), cause: 'grant-set' }, now)];
    const deleted = await deps.grants.tombstone(item, events, now);
    if (deleted) {
      await flushGrant(deps, deleted);
      return;
    }
    // Changed or gone since it was read: read it again (gone is what the set wants).
    item = await deps.grants.get(current.service, current.id);
  }
  if (item !== undefined) throw new TrellisError('ConcurrentModification', 409, `Grant ${current.id} kept changing while the grant set was applied; retry`);
}

async function flushGrant(deps: GrantsDeps, item: StoredGrant): Promise<void> {
  await deps.outbox.flush({ table: deps.grants.table, key: { service: item.service, id: item.id }, events: item.pendingEvents ?? [], revision: item.revision, tombstone: item.tombstone === true });
}

export async function replaceGrantSet(
  deps: GrantSetDeps,
  name: string,
  desired: readonly DesiredGrant[],
  options: { ifMatch?: string; dryRun?: boolean; now?: Date } = {},
): Promise<GrantSetResult> {
  const service = await getService(deps, name);
  const canonical = checkDesired(service.name, desired, deps.trustDomain);
  const current = await deps.grants.allOfService(service.name);
  const currentRevision = grantRevision(current);
  if (options.ifMatch !== undefined && options.ifMatch !== currentRevision) {
    throw new TrellisError('PreconditionFailed', 412, `The grants of ${service.name} changed since revision ${options.ifMatch} was read (now ${currentRevision}); read them again and re-apply`, {
      details: [{ field: 'If-Match', rule: 'revision', message: `the current grant revision is ${currentRevision}` }],
      headers: { ETag: `"${currentRevision}"` },
    });
  }
  const now = options.now ?? new Date();
  const wanted = new Map<string, Grant>();
  for (const input of canonical) {
    const id = grantIdFor(input);
    wanted.set(id, toPublicGrant({ ...input, id, kind: grantKind(input.caller), createdAt: now.toISOString() }));
  }
  const currentIds = new Set(current.map((g) => g.id));
  const created = [...wanted.values()].filter((g) => !currentIds.has(g.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const deletedItems = current.filter((g) => !wanted.has(g.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const after = [...current.filter((g) => wanted.has(g.id)), ...created];
  const revision = grantRevision(after);

  const settings = await compileSettingsNow({ compile: deps.compile, ...(deps.revocations === undefined ? {} : { revocations: deps.revocations }), now: () => now });
  const was = compileService(current, service.arn, settings);
  const will = compileService(after, service.arn, settings);
  if (!will.ok) {
    const { bytes, limit, suggestions } = will.tooLarge;
    throw new TrellisError('PolicyTooLarge', 422, `With this grant set the auth policy of ${service.name} would be ${bytes} bytes, over the ${limit}-byte Lattice quota; nothing was changed`, {
      details: [{ field: 'grants', rule: 'policy-too-large', message: `the policy would be ${bytes} bytes; the limit is ${limit}` }, ...suggestions.map((message) => ({ field: 'grants', rule: 'use-prefix-grant', message }))],
    });
  }
  const changes = new Map<string, AccessChange>();
  let truncated = false;
  for (const grant of [...created, ...deletedItems]) {
    const part = accessChanges(current.map(toCompilerGrant), after.map(toCompilerGrant), toCompilerGrant(grant));
    truncated ||= part.truncated;
    for (const c of part.changes) changes.set(JSON.stringify([c.caller, c.method, c.pathPrefix]), c);
  }
  const result: GrantSetResult = {
    service: service.name,
    revision,
    changed: created.length + deletedItems.length > 0,
    dryRun: options.dryRun === true,
    created,
    deleted: deletedItems.map(toPublicGrant),
    policy: { ...diffStatements(was.ok ? was.compiled.policy : undefined, will.compiled.policy), bytes: will.compiled.bytes, limit: deps.compile.maxBytes ?? DEFAULT_MAX_POLICY_BYTES },
    access: { changes: [...changes.values()].sort((a, b) => (JSON.stringify([a.caller, a.method, a.pathPrefix]) < JSON.stringify([b.caller, b.method, b.pathPrefix]) ? -1 : 1)), truncated },
  };
  if (!result.changed || options.dryRun === true) return result;

  const intent = [pendingEvent('GrantSetReplaced', { service: service.name, revision, created: created.map((g) => g.id), deleted: deletedItems.map((g) => g.id) }, now)];
  const recorded = await deps.services.recordGrantSet(service.name, intent, now);
  if (!recorded) throw new TrellisError('ServiceNotFound', 404, `Trellis manages no service named "${service.name}"`);
  for (const grant of created) {
    const stored = await deps.grants.create(grant, [pendingEvent('GrantChanged', { service: service.name, change: 'created', grant, cause: 'grant-set' }, now)], now);
    // undefined: a concurrent writer created the same grant; it is there, as the set wants.
    if (stored) await flushGrant(deps, stored);
  }
  for (const item of deletedItems) await deleteForSet(deps, item, now);
  await deps.outbox.flush({ table: deps.services.table, key: { name: recorded.name }, events: recorded.pendingEvents ?? [], revision: recorded.revision, tombstone: false });
  return result;
}
