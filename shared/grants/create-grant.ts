/**
 * POST /grants: a grant checked once against the rules (the caller in the stage's trust domain,
 * path prefixes…), in canonical form, for a managed service, refused with 422 when it would take
 * the service's auth policy over the Lattice quota (the sync would keep the previous policy, so the
 * grant could never take effect), then stored. Grants created concurrently can still cross the
 * quota together; the sync then keeps the last policy that fit and emits PolicySyncFailed.
 */
import { refuseOverQuota, type CompileSettings } from '../policy-sync/compile';
import { compileSettingsNow, type RevocationStore } from '../policy-sync/revocations';
import { canonicalGrant, validateGrantRules, type Grant, type GrantInput } from './model';
import { getService, storeGrant, type GrantsDeps } from './service';

export interface CreateGrantDeps extends GrantsDeps {
  compile: CompileSettings;
  /** The revoked certificates' deny counts against the quota too. */
  revocations?: RevocationStore;
  now?: () => Date;
}

export async function createGrant(deps: CreateGrantDeps, input: GrantInput): Promise<Grant> {
  validateGrantRules(input, deps.trustDomain);
  const canonical = canonicalGrant(input);
  const service = await getService(deps, canonical.service);
  refuseOverQuota(service, await deps.grants.allOfService(service.name), canonical, await compileSettingsNow(deps));
  return storeGrant(deps, canonical);
}
