/**
 * Grants and managed services: the input rules, the stored and public shapes, and the ids.
 *
 * A grant's rules (caller, methods, path prefixes) are checked by the auth policy compiler itself
 * ({@link validateGrantRules} runs compilePolicy on the one grant), so the API can never accept a
 * grant the compiler would refuse, and the 400 names the same rule the compiler names.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { TrellisError, validationError, type ErrorDetail } from '../errors';
import { canonicalJson, compilePolicy } from '../policy/compiler';
import type { PendingEvent } from '../events/catalog';

/** Trellis's name for a managed Lattice service: 1-40 lowercase letters, digits and inner hyphens. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const SERVICE_ARN_PATTERN = /^arn:aws[a-z-]*:vpc-lattice:[a-z0-9-]+:\d{12}:service\/svc-[0-9a-z]{17}$/;
export const GRANT_ID_PATTERN = /^gr-([a-z0-9][a-z0-9-]*)-([0-9a-f]{32})$/;
export const MAX_PATH_PREFIXES = 20;
/** A desired grant set of one service (PUT /services/{name}/grants); far above what fits the policy quota anyway. */
export const MAX_GRANT_SET = 1000;

export type GrantKind = 'exact' | 'prefix';
export type GrantEffect = 'Allow' | 'Deny';
export const GRANT_EFFECTS: readonly GrantEffect[] = ['Allow', 'Deny'];

/** What the API returns and GrantChanged carries. */
export interface Grant {
  id: string;
  service: string;
  caller: string;
  kind: GrantKind;
  /** "Deny" carves an exception out of the allows (it wins over every Allow it matches). Grants stored before effects existed have none: Allow. */
  effect: GrantEffect;
  /** Upper-case HTTP methods, sorted, unique; absent = every method. */
  methods?: string[];
  /** Path prefixes, sorted, unique; absent = every path. */
  pathPrefixes?: string[];
  createdAt: string;
}

export interface GrantInput {
  service: string;
  /** Default "Allow". */
  effect?: GrantEffect;
  caller: string;
  methods?: string[];
  pathPrefixes?: string[];
}

/** A managed Lattice service as the API returns it. */
export interface ManagedService {
  name: string;
  arn: string;
  /** `stage`: seeded from the stage configuration (follows it); `api`: registered with PUT /services/{name}. */
  source: 'stage' | 'api';
  createdAt: string;
  updatedAt: string;
}

const serviceName = z.string().superRefine((value, ctx) => {
  if (!SERVICE_NAME_PATTERN.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'is 1-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit', params: { rule: 'service-name' } });
  }
});

/** A grant as stored: its revision, its outbox, a tombstone while its deletion event is out. */
export type StoredGrant = Grant & {
  revision: number;
  pendingEvents?: PendingEvent[];
  tombstone?: boolean;
};

export interface GrantPage {
  items: StoredGrant[];
  lastKey?: Record<string, unknown>;
}

export interface GrantQuery {
  service?: string;
  caller?: string;
}

/** A managed service as stored, with its policy-sync record (see shared/policy-sync/converge.ts). */
export interface LastSync {
  outcome: 'applied' | 'unchanged' | 'failed';
  /** The desiredVersion the sync read before reading the grants. */
  version: number;
  at: string;
  code?: string;
  message?: string;
  bytes?: number;
  limit?: number;
}

export type StoredService = ManagedService & {
  revision: number;
  pendingEvents?: PendingEvent[];
  desiredVersion?: number;
  appliedVersion?: number;
  appliedAt?: string;
  appliedPolicySha256?: string;
  appliedBytes?: number;
  lastSync?: LastSync;
};

export interface AppliedRecord {
  version: number;
  at: string;
  policySha256: string;
  bytes: number;
  outcome: 'applied' | 'unchanged';
}

/** What a grant says, in a POST /grants body and in each entry of a grant set. */
const grantFields = {
  // The same rule name as the compiler's, so a 400 reads the same wherever the effect is checked.
  effect: z
    .custom<GrantEffect>((value) => GRANT_EFFECTS.includes(value as GrantEffect), { message: 'is "Allow" (the default) or "Deny"', params: { rule: 'effect' } })
    .optional(),
  caller: z.string(),
  methods: z.array(z.string()).optional(),
  pathPrefixes: z.array(z.string()).max(MAX_PATH_PREFIXES, `at most ${MAX_PATH_PREFIXES} path prefixes`).optional(),
};

export const grantSchemas = {
  create: z.strictObject({ service: serviceName, ...grantFields }),
  grantSet: z.strictObject({
    grants: z
      .array(
        z.strictObject(grantFields),
      )
      .max(MAX_GRANT_SET, `at most ${MAX_GRANT_SET} grants`),
  }),
  registerService: z.strictObject({
    arn: z.string().regex(SERVICE_ARN_PATTERN, 'must be a VPC Lattice service ARN, arn:aws:vpc-lattice:<region>:<account>:service/svc-<17 characters>'),
  }),
};

/** Placeholders that only let the compiler check one grant's own rules. */
const CHECK_ONLY = {
  serviceArn: 'arn:aws:vpc-lattice:us-east-1:000000000000:service/svc-00000000000000000',
  principalArn: 'arn:aws:iam::000000000000:role/check-only',
  maxBytes: Number.MAX_SAFE_INTEGER,
};

/**
 * Checks a grant's caller, methods and path prefixes with the compiler's own rules; throws a 400
 * whose details name each field (`caller`, `methods[1]`, `pathPrefixes[0]`) and the rule it broke.
 */
export function validateGrantRules(input: GrantInput, trustDomain: string): void {
  try {
    compilePolicy([{ id: 'check', effect: input.effect, caller: input.caller, methods: input.methods, pathPrefixes: input.pathPrefixes }], { ...CHECK_ONLY, trustDomain });
  } catch (error) {
    if (error instanceof TrellisError && error.code === 'InvalidGrant' && error.details) {
      const details: ErrorDetail[] = error.details.map((d) => ({ ...d, field: d.field.replace(/^grants\[0\]\.?/, '') || '(body)' }));
      throw validationError(`The grant is invalid: ${details.map((d) => `${d.field}: ${d.message} (${d.rule})`).join('; ')}`, details);
    }
    throw error;
  }
}

const uniqueSorted = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The canonical form of a grant: what makes two grants the same grant (an Allow carries no effect field, so ids of grants made before effects existed stay valid). */
export function canonicalGrant(input: GrantInput): GrantInput {
  return {
    service: input.service,
    ...(input.effect === 'Deny' ? { effect: 'Deny' as const } : {}),
    caller: input.caller,
    ...(input.methods === undefined ? {} : { methods: uniqueSorted(input.methods) }),
    ...(input.pathPrefixes === undefined ? {} : { pathPrefixes: uniqueSorted(input.pathPrefixes) }),
  };
}

/**
 * The id is derived from the canonical grant, so "the same grant twice" is one conditional write
 * on one key (a duplicate is a 409 even under concurrency), and it carries the service, so
 * DELETE /grants/{id} finds the item without a second index. A Deny hashes its effect too (an
 * allow and a deny of the same shape are two grants); an Allow hashes exactly what it did before
 * effects existed, so the ids of existing grants do not change.
 */
export function grantIdFor(input: GrantInput): string {
  const c = canonicalGrant(input);
  const shape = [c.service, c.caller, c.methods ?? null, c.pathPrefixes ?? null];
  const digest = createHash('sha256')
    .update(canonicalJson(c.effect === 'Deny' ? ['Deny', ...shape] : shape))
    .digest('hex');
  return `gr-${c.service}-${digest.slice(0, 32)}`;
}

/**
 * A service's grant revision: a digest of its live grant ids (each id is itself a digest of the
 * grant), so it changes with every grant change and is equal for equal sets. The ETag that
 * PUT /services/{name}/grants answers and checks in If-Match; no stored counter to keep in step.
 */
export function grantRevision(grants: readonly { id: string }[]): string {
  return createHash('sha256').update(grants.map((g) => g.id).sort().join('\n')).digest('hex').slice(0, 32);
}

/** The service of a grant id, or undefined when the id is not one Trellis makes. */
export function serviceOfGrantId(id: string): string | undefined {
  const m = GRANT_ID_PATTERN.exec(id);
  const service = m?.[1];
  return service !== undefined && SERVICE_NAME_PATTERN.test(service) ? service : undefined;
}

export const grantKind = (caller: string): GrantKind => (caller.endsWith('/*') ? 'prefix' : 'exact');

/** Stored grants from before effects existed have no effect attribute: they are allows. */
export const effectOfGrant = (item: { effect?: GrantEffect }): GrantEffect => item.effect ?? 'Allow';

export function toPublicGrant(item: Omit<Grant, 'effect'> & { effect?: GrantEffect }): Grant {
  return {
    id: item.id,
    service: item.service,
    caller: item.caller,
    kind: item.kind,
    effect: effectOfGrant(item),
    ...(item.methods === undefined ? {} : { methods: [...item.methods] }),
    ...(item.pathPrefixes === undefined ? {} : { pathPrefixes: [...item.pathPrefixes] }),
    createdAt: item.createdAt,
  };
}

export function toPublicService(item: ManagedService): ManagedService {
  return { name: item.name, arn: item.arn, source: item.source, createdAt: item.createdAt, updatedAt: item.updatedAt };
}

export function checkServiceName(name: string): void {
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw validationError(`The service name ${JSON.stringify(name)} is invalid`, [
      { field: 'name', rule: 'service-name', message: 'is 1-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit' },
    ]);
  }
}
