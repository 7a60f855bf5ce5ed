/**
 * The policy view (GET /services/{name}/policy): the compilation of the current grants, the policy Lattice has, and
 * the state: in-sync (equal in canonical form), failed (the grants do not compile within the
 * limit), pending (a grant change is newer than the last applied version), drifted (nothing is
 * pending yet they differ: changed outside Trellis; the scheduled reconcile repairs it).
 */
import { grantRevision, type StoredGrant, type StoredService } from '../grants/model';
import { canonicalPolicy, type AppliedPolicy } from './auth-policies';
import { compileService, type Compilation } from './compile';
import { clock, type PolicyDeps } from './deps';
import { deniedSerials } from './revocations';

export type PolicyState = 'in-sync' | 'pending' | 'drifted' | 'failed';

export interface ServicePolicyView {
  service: string;
  serviceArn: string;
  state: PolicyState;
  grants: number;
  /** The grant revision (If-Match of PUT /services/{name}/grants). */
  grantRevision: string;
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

/** The current grants, their compilation, what Lattice has applied, and how the two relate. */
export interface PolicySnapshot {
  grants: StoredGrant[];
  compilation: Compilation;
  applied: AppliedPolicy | undefined;
  state: PolicyState;
}

export async function readPolicySnapshot(deps: PolicyDeps, service: StoredService): Promise<PolicySnapshot> {
  const grants = await deps.grants.allOfService(service.name);
  const revoked = deps.revocations === undefined ? [] : await deniedSerials(deps.revocations, clock(deps));
  const compilation = compileService(grants, service.arn, deps.compile, revoked);
  const applied = await deps.policies.get(service.arn);
  const desiredVersion = service.desiredVersion ?? 0;
  let state: PolicyState;
  if (!compilation.ok) state = 'failed';
  else if (applied !== undefined && canonicalPolicy(applied.policy) === compilation.compiled.policy) state = 'in-sync';
  else if (desiredVersion > (service.appliedVersion ?? -1)) state = 'pending';
  else state = 'drifted';
  return { grants, compilation, applied, state };
}

export async function describeServicePolicy(deps: PolicyDeps, service: StoredService): Promise<ServicePolicyView> {
  const { grants, compilation, applied, state } = await readPolicySnapshot(deps, service);
  const desiredVersion = service.desiredVersion ?? 0;
  return {
    service: service.name,
    serviceArn: service.arn,
    state,
    grants: grants.length,
    grantRevision: grantRevision(grants),
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
