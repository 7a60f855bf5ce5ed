/**
 * The event contract: every detail-type Trellis publishes on the bus `trellis-<stage>` with
 * `source: "trellis"`, each with one versioned detail schema. Publishers build details through
 * `eventEntry`, consumers parse them with `parseDetail`, and docs/events.md is checked against
 * this file by a test, so the three cannot drift apart.
 *
 * Delivery is at least once (EventBridge itself and the outbox sweep may repeat an event):
 * every detail carries a stable `eventId`; consumers that must not act twice dedupe on it.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export const EVENT_SOURCE = 'trellis';

const base = {
  schemaVersion: z.literal(1),
  eventId: z.string().uuid(),
  occurredAt: z.iso.datetime(),
};

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

export const eventSchemas = {
  WorkloadRegistered: z.object({ ...base, workload }).describe('A workload entry was registered (POST /workloads).'),
  WorkloadUpdated: z.object({ ...base, workload, previousRevision: z.number().int() }).describe('A workload entry was changed (PUT /workloads/{id}); `workload` is the new state.'),
  WorkloadDeleted: z
    .object({ ...base, workloadId: z.string(), spiffeId: z.string(), revision: z.number().int() })
    .describe('A workload entry was deleted (DELETE /workloads/{id}); its certificates are revoked and its exact-ID grants removed in reaction.'),
  // >>> SVID events (issue 3) — keep this marker line
  // <<< SVID events
  // >>> grant and policy events (issue 4) — keep this marker line
  // <<< grant and policy events
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
