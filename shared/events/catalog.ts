/**
 * The event contract: every detail-type Trellis publishes on the bus `trellis-<stage>` with
 * `source: "trellis"`, each with one versioned detail schema. Publishers build details through
 * `pendingEvent`, consumers parse them with `parseDetail`, and docs/events.md is checked against
 * this file by a test, so the three cannot drift apart.
 *
 * Delivery is at least once (EventBridge itself and the outbox sweep may repeat an event):
 * every detail carries a stable `eventId`; consumers that must not act twice dedupe on it.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';

export const EVENT_SOURCE = 'trellis';

const base = {
  schemaVersion: z.literal(1),
  eventId: z.string().uuid(),
  occurredAt: z.iso.datetime(),
};

/** ACM Private CA's RevocationReason values (RevokeCertificate). */
export const REVOCATION_REASONS = ['UNSPECIFIED', 'KEY_COMPROMISE', 'CERTIFICATE_AUTHORITY_COMPROMISE', 'AFFILIATION_CHANGED', 'SUPERSEDED', 'CESSATION_OF_OPERATION', 'PRIVILEGE_WITHDRAWN', 'A_A_COMPROMISE'] as const;
export type RevocationReasonName = (typeof REVOCATION_REASONS)[number];

/** What started a policy sync (shared/policy-sync/deps.ts derives its Trigger type from this). */
const syncTrigger = z.enum(['GrantChanged', 'ServiceRegistered', 'GrantSetReplaced', 'SvidRevoked', 'reconcile']);

const workload = z.object({
  id: z.string(),
  spiffeId: z.string(),
  selectors: z.object({ awsPrincipalArns: z.array(z.string()) }),
  x509SvidTtlSeconds: z.number().int(),
  dnsNames: z.array(z.string()),
  revision: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** The request an SVID outcome answers (SvidIssued, SvidIssuanceFailed carry the same four fields). */
const svidRequest = {
  workloadId: z.string(),
  spiffeId: z.string(),
  requestId: z.string().uuid(),
  trigger: z.enum(['registration', 'csr-submitted', 'renewal']),
};

export const eventSchemas = {
  WorkloadRegistered: z.object({ ...base, workload }).describe('A workload entry was registered (POST /workloads).'),
  WorkloadUpdated: z.object({ ...base, workload, previousRevision: z.number().int() }).describe('A workload entry was changed (PUT /workloads/{id}); `workload` is the new state.'),
  WorkloadDeleted: z
    .object({ ...base, workloadId: z.string(), spiffeId: z.string(), revision: z.number().int() })
    .describe('A workload entry was deleted (DELETE /workloads/{id}); its certificates are revoked and its exact-ID grants removed in reaction.'),
  SvidRequested: z
    .object({
      ...base,
      workloadId: z.string(),
      spiffeId: z.string(),
      requestId: z.string().uuid(),
      requestedAt: z.iso.datetime(),
      trigger: z.enum(['registration', 'csr-submitted', 'renewal']),
      csr: z.string().max(32_768),
    })
    .describe(
      'An X.509-SVID was requested for a workload: a CSR given at registration (POST /workloads), submitted (POST /workloads/{id}/csr), or the stored CSR of an SVID past half its lifetime (renewal). The issuer reacts; every request ends in SvidIssued or SvidIssuanceFailed with the same requestId.',
    ),
  SvidIssued: z
    .object({
      ...base,
      ...svidRequest,
      serialNumber: z.string().regex(/^[0-9a-f]+$/),
      notBefore: z.iso.datetime(),
      notAfter: z.iso.datetime(),
      certificateArn: z.string(),
      requestedAt: z.iso.datetime().optional().describe('When the request was made (its SvidRequested requestedAt): SvidIssued occurredAt minus this is the time to identity'),
      renewalDueAt: z.iso.datetime().optional().describe('Renewals: the half-life of the SVID this one replaces (when the renewal was due)'),
    })
    .describe('ACM Private CA issued the X.509-SVID of a request and it passed the X509-SVID checks; GET /workloads/{id}/svid serves it. Emitted again at every renewal.'),
  SvidIssuanceFailed: z
    .object({
      ...base,
      ...svidRequest,
      reason: z.string(),
      message: z.string(),
    })
    .describe(
      'A request ended without a certificate. `reason` is a CSR refusal (not-pem, malformed, bad-signature, weak-key, unsupported-key, foreign-uri, foreign-dns, foreign-san, subject-spiffe, empty-name, too-large) or throttled, pca-unavailable, pca-rejected, certificate-not-ready, svid-check-failed, ca-not-active, workload-deleted, superseded; or, ended by the guarantee that no request stays pending: retries-exhausted (every delivery of the request queue failed), redrive-failed (the watchdog could not re-drive it), issuance-unconfirmed (an IssueCertificate answer was lost past the idempotency window and the CA cannot be asked, so no second certificate is risked); `message` says what to do.',
    ),
  SvidRevoked: z
    .object({
      ...base,
      workloadId: z.string(),
      spiffeId: z.string(),
      serialNumber: z.string().regex(/^[0-9a-f]+$/),
      reason: z.enum(REVOCATION_REASONS),
      notAfter: z.iso
        .datetime()
        .optional()
        .describe('The certificate\'s NotAfter: every managed auth policy denies its sessions until then. Always set by Trellis now; absent on events published before it was added, which a redrive may still deliver (the policy sync then assumes the longest SVID lifetime, 7 days from occurredAt)'),
    })
    .describe('A certificate of a workload was revoked with ACM Private CA RevokeCertificate (POST /workloads/{id}/svid/revoke, every certificate of a deleted workload, or one issued for a request that no longer applied, including one issued but never recorded and found in the CA listing where the CA offers one). The policy sync records it and recompiles every managed service, whose auth policy then denies the sessions made with this certificate until notAfter.'),
  GrantChanged: z
    .object({
      ...base,
      service: z.string(),
      change: z.enum(['created', 'deleted']),
      grant: z.object({
        id: z.string(),
        service: z.string(),
        caller: z.string(),
        kind: z.enum(['exact', 'prefix']),
        effect: z
          .enum(['Allow', 'Deny'])
          .optional()
          .describe('Deny: an exception that wins over every Allow it matches. Always set by Trellis now; absent (= Allow) on events published before deny grants existed, which a redrive may still deliver'),
        methods: z.array(z.string()).optional(),
        pathPrefixes: z.array(z.string()).optional(),
        createdAt: z.string(),
      }),
      cause: z.enum(['api', 'workload-deleted', 'grant-set']),
    })
    .describe('A grant was created (POST /grants) or deleted (DELETE /grants/{id}, or because its exact caller\'s workload was deleted, or by PUT /services/{name}/grants: cause `grant-set`); the policy sync recompiles `service`, except for cause `grant-set`, whose one GrantSetReplaced triggers one sync for the whole set.'),
  GrantSetReplaced: z
    .object({
      ...base,
      service: z.string(),
      revision: z.string().describe('The grant revision of the service after the change (the ETag of PUT /services/{name}/grants)'),
      created: z.array(z.string()).describe('Ids of the grants created (each also has its GrantChanged)'),
      deleted: z.array(z.string()).describe('Ids of the grants deleted (each also has its GrantChanged)'),
    })
    .describe('PUT /services/{name}/grants replaced the service\'s grants with a desired set; the policy sync applies the whole set in one sync. Never emitted when the set was already the desired one.'),
  ServiceRegistered: z
    .object({ ...base, service: z.string(), arn: z.string(), previousArn: z.string().nullable() })
    .describe('A managed Lattice service was registered or got a new ARN (PUT /services/{name}, or the stage configuration seeded it); the policy sync applies its policy.'),
  PolicyApplied: z
    .object({
      ...base,
      service: z.string(),
      serviceArn: z.string(),
      changed: z.boolean().describe('false when the applied policy already equalled the compilation (no PutAuthPolicy call)'),
      policySha256: z.string(),
      bytes: z.number().int(),
      statements: z.number().int(),
      grants: z.number().int(),
      desiredVersion: z.number().int(),
      trigger: syncTrigger,
      triggerEventId: z.string().nullable(),
      triggerOccurredAt: z.iso.datetime().optional().describe('When the triggering event occurred (absent for the reconcile): occurredAt minus this is the grant-change-to-enforcement latency'),
      limit: z.number().int().optional().describe('The auth policy size limit `bytes` counts against'),
    })
    .describe("The service's auth policy now is the compilation of its grants as read after `desiredVersion`."),
  PolicySyncFailed: z
    .object({
      ...base,
      service: z.string(),
      serviceArn: z.string().nullable(),
      code: z.string(),
      message: z.string(),
      bytes: z.number().int().nullable().describe('PolicyTooLarge: the size the compiled policy would have'),
      limit: z.number().int().nullable().describe('PolicyTooLarge: the auth policy size limit'),
      suggestions: z.array(z.string()),
      willRetry: z.boolean().describe('true for transient failures (the event is retried); false when only a grant change can help'),
      trigger: syncTrigger,
      triggerEventId: z.string().nullable(),
    })
    .describe('The policy of `service` could not be applied; the previously applied policy stays in force.'),
  PolicyDriftRepaired: z
    .object({
      ...base,
      service: z.string(),
      serviceArn: z.string(),
      found: z.enum(['missing', 'changed-outside-trellis', 'behind-grants']),
      previousPolicySha256: z.string().nullable(),
      previousBytes: z.number().int().nullable(),
      policySha256: z.string(),
      bytes: z.number().int(),
    })
    .describe('The scheduled reconcile found an applied policy that was not the compilation of the grants (removed, changed outside Trellis, or behind the grants) and re-applied it.'),
} as const;

export type DetailType = keyof typeof eventSchemas;
export type EventDetail<T extends DetailType> = z.output<(typeof eventSchemas)[T]>;
type DetailInput<T extends DetailType> = Omit<EventDetail<T>, 'schemaVersion' | 'eventId' | 'occurredAt'>;

/** An event waiting to be published (stored in an item's outbox until it is). */
export interface PendingEvent {
  detailType: DetailType;
  /** The detail as JSON, exactly as it will be published. */
  detail: string;
  eventId: string;
}

export function pendingEvent<T extends DetailType>(detailType: T, detail: DetailInput<T>, now: Date = new Date()): PendingEvent {
  const eventId = randomUUID();
  const full = eventSchemas[detailType].parse({ ...detail, schemaVersion: 1, eventId, occurredAt: now.toISOString() });
  return { detailType, detail: JSON.stringify(full), eventId };
}

/** Parses and validates the detail of a received event; throws naming the schema violation. */
export function parseDetail<T extends DetailType>(detailType: T, detail: unknown): EventDetail<T> {
  const parsed = eventSchemas[detailType].safeParse(detail);
  if (!parsed.success) {
    throw new Error(`Event ${detailType} does not match its schema v1: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as EventDetail<T>;
}
