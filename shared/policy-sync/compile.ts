/** Compiling a service's grants into its auth policy, and the size refusal when it would exceed the quota. */
import { createHash } from 'node:crypto';
import { TrellisError } from '../errors';
import type { StoredGrant } from '../grants/model';
import { compilePolicy, DEFAULT_MAX_POLICY_BYTES, type CompiledPolicy, type Grant as CompilerGrant } from '../policy/compiler';

export interface CompileSettings {
  /** The stage's Roles Anywhere role (arn:aws:iam::<acct>:role/trellis-<stage>-workload). */
  principalArn: string;
  trustDomain: string;
  issuerOu?: string;
  /** Default DEFAULT_MAX_POLICY_BYTES (the Lattice quota, read as 10,000 bytes). */
  maxBytes?: number;
  /** The revoked, unexpired certificates whose sessions every policy denies (revocations.ts `compileSettingsNow`). */
  revokedSerials?: readonly string[];
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export type CompilableGrant = Pick<StoredGrant, 'id' | 'caller' | 'methods' | 'pathPrefixes'> & { effect?: StoredGrant['effect'] };

export const toCompilerGrant = (g: CompilableGrant): CompilerGrant => ({
  id: g.id,
  ...(g.effect === 'Deny' ? { effect: 'Deny' as const } : {}),
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

/**
 * Compiles a service's grants, plus the deny for the sessions of the revoked, unexpired certificates
 * (`revokedSerials`, counted against the size limit like any statement); over the size limit it
 * reports the size, the limit and the compiler's suggestions.
 */
export function compileService(grants: readonly CompilableGrant[], serviceArn: string, settings: CompileSettings, revokedSerials: readonly string[] = settings.revokedSerials ?? []): Compilation {
  const options = {
    serviceArn,
    principalArn: settings.principalArn,
    trustDomain: settings.trustDomain,
    ...(settings.issuerOu ? { issuerOu: settings.issuerOu } : {}),
    ...(revokedSerials.length > 0 ? { revokedSerials } : {}),
  };
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

/**
 * Refuses a grant that would take the service's auth policy over the quota: the sync
 * would keep the previous policy, so the grant could never take effect. (Concurrent creations can
 * still cross the quota together; the sync then keeps the last policy that fit and emits
 * PolicySyncFailed.)
 */
export function refuseOverQuota(
  service: { name: string; arn: string },
  grants: readonly CompilableGrant[],
  grant: Omit<CompilableGrant, 'id'>,
  settings: CompileSettings,
  revokedSerials: readonly string[] = settings.revokedSerials ?? [],
): void {
  const compilation = compileService([...grants, { ...grant, id: 'candidate' }], service.arn, settings, revokedSerials);
  if (compilation.ok) return;
  const { bytes, limit, suggestions } = compilation.tooLarge;
  throw new TrellisError(
    'PolicyTooLarge',
    422,
    `With this grant the auth policy of ${service.name} would be ${bytes} bytes, over the ${limit}-byte Lattice quota; replace exact grants by prefix grants${suggestions.length > 0 ? ` (${suggestions.join('; ')})` : ''}`,
    { details: [{ field: 'caller', rule: 'policy-too-large', message: `the policy would be ${bytes} bytes; the limit is ${limit}` }, ...suggestions.map((message) => ({ field: 'caller', rule: 'use-prefix-grant', message }))] },
  );
}
