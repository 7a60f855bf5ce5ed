/**
 * Converge: brings one service's auth policy to the compilation of its current grants —
 * level-triggered, idempotent, order-insensitive.
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
 *
 * Revocations take the same path: the revocations table is one more input read after v, and a
 * recorded revocation bumps every managed service (shared/policy-sync/revocation-sync.ts), so the
 * argument above covers them as it covers grant writes.
 */
import { TrellisError } from '../errors';
import type { StoredService } from '../grants/model';
import type { CompiledPolicy } from '../policy/compiler';
import { canonicalPolicy, type AppliedPolicy } from './auth-policies';
import { compileService, sha256, type TooLarge } from './compile';
import { clock, type PolicyDeps } from './deps';
import { deniedSerials } from './revocations';

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
    // Both read after desiredVersion (a grant or revocation recorded before its bump is seen), in
    // parallel: the revocations cost the sync no extra round trip.
    const [grants, revoked] = await Promise.all([
      deps.grants.allOfService(name),
      deps.revocations === undefined ? Promise.resolve([]) : deniedSerials(deps.revocations, clock(deps)),
    ]);
    const compilation = compileService(grants, service.arn, deps.compile, revoked);
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
