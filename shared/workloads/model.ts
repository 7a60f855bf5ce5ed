/**
 * Registration entries: the input rules (one zod schema per operation; unknown fields refused),
 * the stored shape and the public shape returned by the API and carried in events.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { PendingEvent } from '../events/catalog';
import { parseWorkloadId } from '../spiffe/spiffe-id';

/** SVID lifetime bounds. The upper bound is the 7-day maximum of an ACM PCA short-lived-certificate CA. */
export const TTL_MIN_SECONDS = 300;
export const TTL_MAX_SECONDS = 604_800;
export const TTL_DEFAULT_SECONDS = 3_600;
export const MAX_PRINCIPAL_ARNS = 25;
export const MAX_DNS_NAMES = 10;
/** The ACM PCA `Csr` blob limit. */
export const MAX_CSR_BYTES = 32_768;

const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam::\d{12}:(role|user)\/[\w+=,.@/-]+|sts::\d{12}:assumed-role\/[\w+=,.@-]+\/[\w+=,.@-]+)$/;
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const unique = <T>(xs: readonly T[]): boolean => new Set(xs).size === xs.length;

export function workloadSchemas(trustDomain: string) {
  const spiffeId = z.string().superRefine((value, ctx) => {
    const parsed = parseWorkloadId(value, trustDomain);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message, params: { rule: parsed.rule } });
  });
  const selectors = z.strictObject({
    awsPrincipalArns: z
      .array(z.string().regex(PRINCIPAL_ARN, 'must be an IAM role, IAM user or STS assumed-role ARN'))
      .max(MAX_PRINCIPAL_ARNS, `at most ${MAX_PRINCIPAL_ARNS} principals`)
      .refine(unique, 'must not repeat a principal'),
  });
  const ttl = z
    .number()
    .int('must be a whole number of seconds')
    .min(TTL_MIN_SECONDS, `must be at least ${TTL_MIN_SECONDS} seconds`)
    .max(TTL_MAX_SECONDS, `must be at most ${TTL_MAX_SECONDS} seconds (7 days)`);
  const dnsNames = z
    .array(z.string().regex(DNS_NAME, 'must be a lowercase DNS name'))
    .max(MAX_DNS_NAMES, `at most ${MAX_DNS_NAMES} DNS names`)
    .refine(unique, 'must not repeat a DNS name');
  const csr = z
    .string()
    .max(MAX_CSR_BYTES, `must be at most ${MAX_CSR_BYTES} bytes (the ACM Private CA limit)`)
    .regex(/-----BEGIN CERTIFICATE REQUEST-----/, 'must be a PEM "CERTIFICATE REQUEST"');

  return {
    create: z.strictObject({ spiffeId, selectors, x509SvidTtlSeconds: ttl.optional(), dnsNames: dnsNames.optional(), csr: csr.optional() }),
    update: z.strictObject({ spiffeId: z.string().optional(), selectors, x509SvidTtlSeconds: ttl.optional(), dnsNames: dnsNames.optional() }),
  };
}

export type CreateWorkloadInput = z.output<ReturnType<typeof workloadSchemas>['create']>;
export type UpdateWorkloadInput = z.output<ReturnType<typeof workloadSchemas>['update']>;

/** What the API returns and events carry. */
export interface Workload {
  id: string;
  spiffeId: string;
  selectors: { awsPrincipalArns: string[] };
  x509SvidTtlSeconds: number;
  dnsNames: string[];
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** The entry as stored: the workload, its outbox, a tombstone while its WorkloadDeleted is out, the CSR given at registration. */
export type StoredWorkload = Workload & {
  pendingEvents?: PendingEvent[];
  tombstone?: boolean;
  csr?: string;
};

/**
 * The entry id is derived from the SPIFFE ID, so the uniqueness of SPIFFE IDs is enforced by a
 * single conditional put on the table's key (no second "unique" item, which would need a
 * transaction). SPIFFE IDs are therefore immutable: re-register to change one.
 */
export function workloadIdFor(spiffeId: string): string {
  return `wl-${createHash('sha256').update(spiffeId).digest('hex').slice(0, 32)}`;
}

export const WORKLOAD_ID_PATTERN = /^wl-[0-9a-f]{32}$/;

/** The public fields of an entry (stored items carry outbox and SVID state besides). */
export function toPublic(item: Workload): Workload {
  return {
    id: item.id,
    spiffeId: item.spiffeId,
    selectors: { awsPrincipalArns: [...item.selectors.awsPrincipalArns] },
    x509SvidTtlSeconds: item.x509SvidTtlSeconds,
    dnsNames: [...item.dnsNames],
    revision: item.revision,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}
