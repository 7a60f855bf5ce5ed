/**
 * Auth policy regeneration: level-triggered, idempotent, order-insensitive.
 *
 * A sync never applies "the change in the event": it reads the service's CURRENT grants
 * (consistent Query), compiles them and puts the result only when it differs from what Lattice
 * has (compared in canonical form). Events only say "look at this service again".
 *
 * Why concurrent syncs converge, and no stale write wins (DynamoDB has no lock that spans
 * PutAuthPolicy, and PutAuthPolicy takes no condition):
 * - every grant change, AFTER its grant write, bumps the service's `desiredVersion` atomically
 *   (the API right after the write, and the sync again when the GrantChanged event arrives, so a
 *   change whose API process died before its bump is still covered once the outbox sweep
 *   publishes its event);
 * - an iteration reads `desiredVersion` (v), THEN the grants, compiles, reads the applied policy,
 *   puts if different, records `appliedVersion = v` only if no newer version is recorded
 *   (conditional write: the record never moves backwards), and — only if it did put — reads
 *   `desiredVersion` again: unchanged means no grant change was bumped since it read v;
 *   otherwise it runs another iteration.
 * A put can only be stale if it compiled grants read before some write w; w's bump b comes after
 * w, hence after this iteration read v. If the stale put landed after a newer put, the iteration's
 * re-check happens after that newer put, whose sync bumped (or was preceded by a bump) after w —
 * so the re-check sees desiredVersion != v and the iteration runs again, now reading the newer
 * grants. If instead the stale put landed before the newer sync compared, that sync sees the
 * stale policy and overwrites it. Either way the last put compiles the final grant table. An
 * iteration that does not put cannot overwrite anything, so it stops at once. Iterations are
 * bounded; past the bound the invocation fails and EventBridge retries it.
 */
import { createHash } from 'node:crypto';
import { TrellisError } from '../errors';
import type { EventPublisher } from '../events/publisher';
import { pendingEvent, type EventDetail } from '../events/catalog';
import type { StoredGrant } from '../grants/grant-repository';
import type { StoredService } from '../grants/service-repository';
import { ensureConfiguredServices, type GrantsDeps } from '../grants/service';
import { logger } from '../logger';
import { compilePolicy, DEFAULT_MAX_POLICY_BYTES, type CompiledPolicy, type Grant as CompilerGrant } from '../policy/compiler';
import { canonicalPolicy, type AppliedPolicy, type AuthPolicies } from './auth-policies';

export interface CompileSettings {
  /** The stage's Roles Anywhere role (arn:aws:iam::<acct>:role/trellis-<stage>-workload). */
  principalArn: string;
  trustDomain: string;
  issuerOu?: string;
  /** Default DEFAULT_MAX_POLICY_BYTES (the Lattice quota, read as 10,000 bytes). */
  maxBytes?: number;
}

export interface PolicyDeps extends GrantsDeps {
  policies: AuthPolicies;
  publisher: EventPublisher;
  compile: CompileSettings;
  /** Bound on iterations of one sync (default 25). */
  maxIterations?: number;
}

export type Trigger = EventDetail<'PolicyApplied'>['trigger'];

const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

type CompilableGrant = Pick<StoredGrant, 'id' | 'caller' | 'methods' | 'pathPrefixes'>;

const toCompilerGrant = (g: CompilableGrant): CompilerGrant => ({
  id: g.id,
  caller: g.caller,
  ...(g.methods === undefined ? {} : { methods: g.methods }),
  ...(g.pathPrefixes === undefined ? {} : { pathPrefixes: g.pathPrefixes }),
});

export interface TooLarge {
  code: 'PolicyTooLarge';
  message: string;
  bytes: number;
  limit: number;
  suggestions: string[];
}

export type Compilation = { ok: true; compiled: CompiledPolicy } | { ok: false; tooLarge: TooLarge };

/** Compiles a service's grants; over the size limit it reports the size, the limit and the compiler's suggestions. */
export function compileService(grants: readonly CompilableGrant[], serviceArn: string, settings: CompileSettings): Compilation {
  const options = { serviceArn, principalArn: settings.principalArn, trustDomain: settings.trustDomain, ...(settings.issuerOu ? { issuerOu: settings.issuerOu } : {}) };
  const limit = settings.maxBytes ?? DEFAULT_MAX_POLICY_BYTES;
  const input = grants.map(toCompilerGrant);
  try {
    return { ok: true, compiled: compilePolicy(input, { ...options, maxBytes: limit }) };
  } catch (error) {
    if (!(error instanceof TrellisError) || error.code !== 'PolicyTooLarge') throw error;
    const unbounded = compilePolicy(input, { ...options, maxBytes: Number.MAX_SAFE_INTEGER });
    return {
      ok: false,
      tooLarge: { code: 'PolicyTooLarge', message: error.message, bytes: unbounded.bytes, limit, suggestions: (error.details ?? []).map((d) => d.message) },
    };
  }
}

export type ConvergeResult =
  | {
      outcome: 'applied' | 'unchanged';
      /** The service as first read (its sync record before this sync wrote). */
      service: StoredService;
      compiled: CompiledPolicy;
      grants: number;
      /** The desiredVersion the final iteration read. */
      version: number;
      /** Whether any iteration called PutAuthPolicy. */
      changed: boolean;
      /** The policy Lattice had when the first iteration looked. */
      before: AppliedPolicy | undefined;
      iterations: number;
    }
  | { outcome: 'too-large'; service: StoredService; tooLarge: TooLarge; version: number }
  | { outcome: 'unknown-service' };

/** Brings the applied policy of one service to the compilation of its current grants (see the file comment). */
export async function convergeService(deps: PolicyDeps, name: string, options: { bump: boolean }): Promise<ConvergeResult> {
  if (options.bump && (await deps.services.bumpDesiredVersion(name)) === undefined) return { outcome: 'unknown-service' };
  const max = deps.maxIterations ?? 25;
  let first: StoredService | undefined;
  let before: AppliedPolicy | undefined;
  let changed = false;
  for (let iteration = 1; iteration <= max; iteration += 1) {
    const service = await deps.services.get(name);
    if (!service) return { outcome: 'unknown-service' };
    first ??= service;
    const version = service.desiredVersion ?? 0;
    const grants = await deps.grants.allOfService(name);
    const compilation = compileService(grants, service.arn, deps.compile);
    if (!compilation.ok) {
      const { tooLarge } = compilation;
      await deps.services.recordFailure(name, { outcome: 'failed', version, at: clock(deps).toISOString(), code: tooLarge.code, message: tooLarge.message, bytes: tooLarge.bytes, limit: tooLarge.limit });
      return { outcome: 'too-large', service: first, tooLarge, version };
    }
    const { compiled } = compilation;
    const applied = await deps.policies.get(service.arn);
    if (iteration === 1) before = applied;
    const same = applied !== undefined && canonicalPolicy(applied.policy) === compiled.policy;
    if (!same) {
      await deps.policies.put(service.arn, compiled.policy);
      changed = true;
    }
    await deps.services.recordApplied(name, {
      version,
      at: clock(deps).toISOString(),
      policySha256: sha256(compiled.policy),
      bytes: compiled.bytes,
      outcome: same ? 'unchanged' : 'applied',
    });
    const result = { outcome: changed ? ('applied' as const) : ('unchanged' as const), service: first, compiled, grants: grants.length, version, changed, before, iterations: iteration };
    if (same) return result;
    const after = await deps.services.get(name);
    if ((after?.desiredVersion ?? 0) === version) return result;
  }
  throw new TrellisError('PolicySyncBusy', 503, `The grants of service ${name} kept changing during ${max} sync iterations; the event is retried`);
}

function failedEvent(service: string, serviceArn: string | null, failure: { code: string; message: string; bytes?: number; limit?: number; suggestions?: string[] }, willRetry: boolean, trigger: Trigger, triggerEventId: string | null) {
  return pendingEvent('PolicySyncFailed', {
    service,
    serviceArn,
    code: failure.code,
    message: failure.message,
    bytes: failure.bytes ?? null,
    limit: failure.limit ?? null,
    suggestions: failure.suggestions ?? [],
    willRetry,
    trigger,
    triggerEventId,
  });
}

const errorCode = (error: unknown): string => (error instanceof TrellisError ? error.code : error instanceof Error ? error.name : 'Error');
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The GrantChanged / ServiceRegistered reaction: converges the service and emits PolicyApplied
 * (also when nothing had to change: `changed: false`) or PolicySyncFailed. A transient failure is
 * reported and rethrown (EventBridge retries the event); an over-size policy is reported once
 * and not retried (only a grant change can fix it). A failure to publish fails the invocation.
 */
export async function syncServicePolicy(deps: PolicyDeps, name: string, trigger: Trigger, triggerEventId: string | null): Promise<ConvergeResult> {
  let result: ConvergeResult;
  try {
    result = await convergeService(deps, name, { bump: trigger !== 'reconcile' });
  } catch (error) {
    const service = await deps.services.get(name).catch(() => undefined);
    logger.error('policy sync failed; the event is retried', { latticeService: name, error: error instanceof Error ? error : String(error) });
    await deps.publisher.publish([failedEvent(name, service?.arn ?? null, { code: errorCode(error), message: errorText(error) }, true, trigger, triggerEventId)]);
    throw error;
  }
  switch (result.outcome) {
    case 'unknown-service':
      logger.warn('policy sync for a service Trellis does not manage', { latticeService: name });
      await deps.publisher.publish([failedEvent(name, null, { code: 'ServiceNotFound', message: `Trellis manages no service named "${name}"` }, false, trigger, triggerEventId)]);
      break;
    case 'too-large':
      logger.warn('compiled policy over the size limit; the applied policy stays', { latticeService: name, bytes: result.tooLarge.bytes, limit: result.tooLarge.limit });
      await deps.publisher.publish([failedEvent(name, result.service.arn, result.tooLarge, false, trigger, triggerEventId)]);
      break;
    default:
      logger.info('policy synced', { latticeService: name, changed: result.changed, bytes: result.compiled.bytes, version: result.version, iterations: result.iterations });
      await deps.publisher.publish([
        pendingEvent('PolicyApplied', {
          service: name,
          serviceArn: result.service.arn,
          changed: result.changed,
          policySha256: sha256(result.compiled.policy),
          bytes: result.compiled.bytes,
          statements: result.compiled.statements,
          grants: result.grants,
          desiredVersion: result.version,
          trigger,
          triggerEventId,
        }),
      ]);
  }
  return result;
}

export type DriftFinding = 'missing' | 'changed-outside-trellis' | 'behind-grants';

export interface ReconcileSummary {
  services: number;
  inSync: number;
  repaired: { service: string; found: DriftFinding }[];
  failed: { service: string; code: string }[];
}

/** Why the applied policy differed: none; not what Trellis last applied (drift); or what it applied, for older grants. */
function classify(before: AppliedPolicy | undefined, service: StoredService): DriftFinding {
  if (before === undefined) return 'missing';
  const canonical = canonicalPolicy(before.policy);
  return canonical !== undefined && sha256(canonical) === service.appliedPolicySha256 ? 'behind-grants' : 'changed-outside-trellis';
}

async function reconcileOne(deps: PolicyDeps, name: string, summary: ReconcileSummary): Promise<void> {
  let result: ConvergeResult;
  try {
    result = await convergeService(deps, name, { bump: false });
  } catch (error) {
    // Reported, not rethrown: the other services still get reconciled, and the next run retries this one.
    logger.error('reconcile of a service failed', { latticeService: name, error: error instanceof Error ? error : String(error) });
    summary.failed.push({ service: name, code: errorCode(error) });
    const service = await deps.services.get(name).catch(() => undefined);
    await deps.publisher.publish([failedEvent(name, service?.arn ?? null, { code: errorCode(error), message: errorText(error) }, true, 'reconcile', null)]);
    return;
  }
  if (result.outcome === 'unknown-service') return;
  if (result.outcome === 'too-large') {
    summary.failed.push({ service: name, code: 'PolicyTooLarge' });
    await deps.publisher.publish([failedEvent(name, result.service.arn, result.tooLarge, false, 'reconcile', null)]);
    return;
  }
  if (!result.changed) {
    summary.inSync += 1;
    return;
  }
  const found = classify(result.before, result.service);
  const previous = result.before === undefined ? undefined : (canonicalPolicy(result.before.policy) ?? result.before.policy);
  summary.repaired.push({ service: name, found });
  logger.warn('auth policy drift repaired', { latticeService: name, found });
  await deps.publisher.publish([
    pendingEvent('PolicyDriftRepaired', {
      service: name,
      serviceArn: result.service.arn,
      found,
      previousPolicySha256: previous === undefined ? null : sha256(previous),
      previousBytes: result.before === undefined ? null : Buffer.byteLength(result.before.policy, 'utf8'),
      policySha256: sha256(result.compiled.policy),
      bytes: result.compiled.bytes,
    }),
  ]);
}

/** The scheduled reconcile: every managed service, `concurrency` at a time. */
export async function reconcileAll(deps: PolicyDeps, options: { concurrency?: number } = {}): Promise<ReconcileSummary> {
  await ensureConfiguredServices(deps);
  const names = (await deps.services.all()).map((s) => s.name).sort();
  const summary: ReconcileSummary = { services: names.length, inSync: 0, repaired: [], failed: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next] as string;
      next += 1;
      await reconcileOne(deps, name, summary);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, names.length)) }, worker));
  return summary;
}

export type PolicyState = 'in-sync' | 'pending' | 'drifted' | 'failed';

export interface ServicePolicyView {
  service: string;
  serviceArn: string;
  state: PolicyState;
  grants: number;
  compiled:
    | { policy: string; bytes: number; statements: number; droppedAsCovered: string[] }
    | { policy: null; bytes: number; limit: number; error: { code: string; message: string; suggestions: string[] } };
  applied: { policy: string; bytes: number; state: string | null; lastUpdatedAt: string | null } | null;
  sync: {
    desiredVersion: number;
    appliedVersion: number | null;
    appliedAt: string | null;
    lastSync: StoredService['lastSync'] | null;
  };
}

/**
 * GET /services/{name}/policy: the compilation of the current grants, the policy Lattice has, and
 * the state: in-sync (equal in canonical form), failed (the grants do not compile within the
 * limit), pending (a grant change is newer than the last applied version), drifted (nothing is
 * pending yet they differ: changed outside Trellis; the scheduled reconcile repairs it).
 */
/**
 * POST /grants refuses a grant that would take the service's auth policy over the quota: the sync
 * would keep the previous policy, so the grant could never take effect. (Concurrent creations can
 * still cross the quota together; the sync then keeps the last policy that fit and emits
 * PolicySyncFailed.)
 */
export async function refuseGrantOverQuota(deps: PolicyDeps, service: StoredService, grant: Omit<CompilableGrant, 'id'>): Promise<void> {
  const grants = await deps.grants.allOfService(service.name);
  const compilation = compileService([...grants, { ...grant, id: 'candidate' }], service.arn, deps.compile);
  if (compilation.ok) return;
  const { bytes, limit, suggestions } = compilation.tooLarge;
  throw new TrellisError(
    'PolicyTooLarge',
    422,
    `With this grant the auth policy of ${service.name} would be ${bytes} bytes, over the ${limit}-byte Lattice quota; replace exact grants by prefix grants${suggestions.length > 0 ? ` (${suggestions.join('; ')})` : ''}`,
    { details: [{ field: 'caller', rule: 'policy-too-large', message: `the policy would be ${bytes} bytes; the limit is ${limit}` }, ...suggestions.map((message) => ({ field: 'caller', rule: 'use-prefix-grant', message }))] },
  );
}

export async function describeServicePolicy(deps: PolicyDeps, service: StoredService): Promise<ServicePolicyView> {
  const grants = await deps.grants.allOfService(service.name);
  const compilation = compileService(grants, service.arn, deps.compile);
  const applied = await deps.policies.get(service.arn);
  const desiredVersion = service.desiredVersion ?? 0;
  let state: PolicyState;
  if (!compilation.ok) state = 'failed';
  else if (applied !== undefined && canonicalPolicy(applied.policy) === compilation.compiled.policy) state = 'in-sync';
  else if (desiredVersion > (service.appliedVersion ?? -1)) state = 'pending';
  else state = 'drifted';
  return {
    service: service.name,
    serviceArn: service.arn,
    state,
    grants: grants.length,
    compiled: compilation.ok
      ? { policy: compilation.compiled.policy, bytes: compilation.compiled.bytes, statements: compilation.compiled.statements, droppedAsCovered: compilation.compiled.droppedAsCovered }
      : {
          policy: null,
          bytes: compilation.tooLarge.bytes,
          limit: compilation.tooLarge.limit,
          error: { code: compilation.tooLarge.code, message: compilation.tooLarge.message, suggestions: compilation.tooLarge.suggestions },
        },
    applied:
      applied === undefined
        ? null
        : { policy: applied.policy, bytes: Buffer.byteLength(applied.policy, 'utf8'), state: applied.state ?? null, lastUpdatedAt: applied.lastUpdatedAt ?? null },
    sync: {
      desiredVersion,
      appliedVersion: service.appliedVersion ?? null,
      appliedAt: service.appliedAt ?? null,
      lastSync: service.lastSync ?? null,
    },
  };
}
