/**
 * POST /grants?dryRun=true and DELETE /grants/{id}?dryRun=true: what a grant change would do, with
 * nothing written and nothing emitted. The same checks as the change itself (rules, service,
 * duplicate, grant existence) answer the same errors; the answer then is the policy diff between
 * the compilations before and after (statements added and removed, compared as canonical JSON), the
 * size against the quota (over it, the real POST would answer 422 and the policy would not change),
 * and whose access changes, per caller, method and path prefix.
 */
import { TrellisError } from '../errors';
import { canonicalJson, DEFAULT_MAX_POLICY_BYTES } from '../policy/compiler';
import { accessChanges, type AccessChange } from '../policy/access-changes';
import { compileService, toCompilerGrant, type CompilableGrant, type CompileSettings } from '../policy-sync/compile';
import { canonicalGrant, grantIdFor, grantKind, toPublicGrant, validateGrantRules, type Grant, type GrantInput } from './model';
import { getGrant, getService, type GrantsDeps } from './service';
import { compileSettingsNow, type RevocationStore } from '../policy-sync/revocations';

export interface PreviewDeps extends GrantsDeps {
  compile: CompileSettings;
  /** The revoked certificates' deny is part of the previewed policy (and its size). */
  revocations?: RevocationStore;
  now?: () => Date;
}

type Statement = Record<string, unknown>;

export interface PolicyShape {
  bytes: number;
  statements: number;
}

export interface GrantChangePreview {
  dryRun: true;
  change: 'create' | 'delete';
  grant: Grant;
  /** `refused`: the change would be refused (PolicyTooLarge) and the applied policy stay as it is. */
  outcome: 'would-apply' | 'refused';
  error: { code: string; message: string } | null;
  policy: {
    before: PolicyShape | null;
    after: PolicyShape & { limit: number; fits: boolean };
    added: Statement[];
    removed: Statement[];
  };
  access: { changes: AccessChange[]; truncated: boolean };
}

type Json = Parameters<typeof canonicalJson>[0];

const statementsOf = (policy: string): Statement[] => (JSON.parse(policy) as { Statement: Statement[] }).Statement;

export function diffStatements(before: string | undefined, after: string | undefined): { added: Statement[]; removed: Statement[] } {
  const b = before === undefined ? [] : statementsOf(before);
  const a = after === undefined ? [] : statementsOf(after);
  const key = (s: Statement): string => canonicalJson(s as Json);
  const inBefore = new Set(b.map(key));
  const inAfter = new Set(a.map(key));
  return { added: a.filter((s) => !inBefore.has(key(s))), removed: b.filter((s) => !inAfter.has(key(s))) };
}

function preview(
  change: 'create' | 'delete',
  grant: Grant,
  service: { arn: string },
  before: readonly CompilableGrant[],
  after: readonly CompilableGrant[],
  settings: CompileSettings,
): GrantChangePreview {
  const was = compileService(before, service.arn, settings);
  const will = compileService(after, service.arn, settings);
  const limit = settings.maxBytes ?? DEFAULT_MAX_POLICY_BYTES;
  const afterShape = will.ok
    ? { bytes: will.compiled.bytes, statements: will.compiled.statements, limit, fits: true }
    : { bytes: will.tooLarge.bytes, statements: 0, limit, fits: false };
  const diff = will.ok ? diffStatements(was.ok ? was.compiled.policy : undefined, will.compiled.policy) : { added: [], removed: [] };
  return {
    dryRun: true,
    change,
    grant,
    outcome: will.ok ? 'would-apply' : 'refused',
    error: will.ok ? null : { code: will.tooLarge.code, message: will.tooLarge.message },
    policy: {
      before: was.ok ? { bytes: was.compiled.bytes, statements: was.compiled.statements } : null,
      after: afterShape,
      ...diff,
    },
    access: will.ok ? accessChanges(before.map(toCompilerGrant), after.map(toCompilerGrant), toCompilerGrant(grant)) : { changes: [], truncated: false },
  };
}

export async function previewCreateGrant(deps: PreviewDeps, input: GrantInput, now: Date = new Date()): Promise<GrantChangePreview> {
  validateGrantRules(input, deps.trustDomain);
  const canonical = canonicalGrant(input);
  const service = await getService(deps, canonical.service);
  const grants = await deps.grants.allOfService(service.name);
  const id = grantIdFor(canonical);
  if (grants.some((g) => g.id === id)) {
    throw new TrellisError('GrantExists', 409, `An identical grant already exists: ${id} (same service, effect, caller, methods and path prefixes)`);
  }
  const grant = toPublicGrant({ ...canonical, id, kind: grantKind(canonical.caller), createdAt: now.toISOString() });
  return preview('create', grant, service, grants, [...grants, grant], await compileSettingsNow(deps));
}

export async function previewDeleteGrant(deps: PreviewDeps, id: string): Promise<GrantChangePreview> {
  const current = await getGrant(deps, id);
  const service = await getService(deps, current.service);
  const grants = await deps.grants.allOfService(service.name);
  return preview('delete', toPublicGrant(current), service, grants, grants.filter((g) => g.id !== id), await compileSettingsNow(deps));
}
