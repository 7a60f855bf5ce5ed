/**
 * Status (GET /status, `trellis status`): what an operator asks first, summarised from the audit
 * trail of the last hours (every event Trellis published), plus the dead-letter queues' depth.
 * Counts per event type; SVIDs issued, failed (by reason) and revoked (by reason); time to
 * identity, renewal lag and grant-change-to-enforcement latency as p50/p95; and what is stuck:
 * SVID requests with no outcome yet (and the oldest one's age), dead letters, and services whose
 * last sync failed (their applied policy is not the compilation of their grants).
 */
import { clock } from './deps';
import type { AuditEntry } from './model';

export interface StatusDeps {
  audit: { since(since: Date): Promise<AuditEntry[]> };
  /** Approximate number of messages per dead-letter queue. */
  deadLetters: { depths(): Promise<Record<string, number>> };
  now?: () => Date;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface PendingRequest {
  workloadId: string;
  spiffeId: string;
  requestId: string;
  trigger: string;
  requestedAt: string;
  ageSeconds: number;
}

export interface OperationsStatus {
  window: { from: string; to: string; hours: number };
  events: Record<string, number>;
  svids: {
    issued: number;
    failed: number;
    failuresByReason: Record<string, number>;
    revokedByReason: Record<string, number>;
    timeToIdentityMs: Percentiles;
    renewalLagSeconds: Percentiles;
  };
  policies: {
    applied: number;
    syncFailures: number;
    driftRepaired: number;
    grantToPolicyMs: Percentiles;
    /** Per service, the last applied policy's size and share of the quota, largest first. */
    sizes: { service: string; bytes: number; quotaPercent: number }[];
  };
  stuck: {
    pendingSvidRequests: number;
    oldestPendingSeconds: number | null;
    /** The oldest pending requests (at most 10). */
    pending: PendingRequest[];
    deadLetters: Record<string, number>;
    policiesOutOfSync: { service: string; code: string; since: string; message: string }[];
  };
  /** True when nothing is stuck: no pending request older than `pendingGraceSeconds`, no dead letter, no service out of sync. */
  healthy: boolean;
}

/** Nearest-rank percentiles (no interpolation: each figure is one that was measured). */
export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: null, p95: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  return { count: sorted.length, p50: rank(50), p95: rank(95), max: sorted[sorted.length - 1] as number };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const ms = (v: unknown): number | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t;
};
const bump = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1;
};
const occurredAt = (e: AuditEntry): number | undefined => ms(e.detail.occurredAt) ?? ms(e.time);

export async function operationsStatus(deps: StatusDeps, options: { hours: number; pendingGraceSeconds: number }): Promise<OperationsStatus> {
  const now = clock(deps);
  const from = new Date(now.getTime() - options.hours * 3600_000);
  const [entries, deadLetters] = await Promise.all([deps.audit.since(from), deps.deadLetters.depths()]);
  entries.sort((a, b) => (occurredAt(a) ?? 0) - (occurredAt(b) ?? 0));
  const byId = new Map(entries.map((e) => [e.eventId, e]));

  const events: Record<string, number> = {};
  const failuresByReason: Record<string, number> = {};
  const revokedByReason: Record<string, number> = {};
  const requested = new Map<string, AuditEntry>();
  const ended = new Set<string>();
  const timeToIdentity: number[] = [];
  const renewalLag: number[] = [];
  const grantToPolicy: number[] = [];
  const sizes = new Map<string, { bytes: number; quotaPercent: number }>();
  const lastSync = new Map<string, AuditEntry>();

  for (const e of entries) {
    bump(events, e.detailType);
    const d = e.detail;
    const at = occurredAt(e);
    switch (e.detailType) {
      case 'SvidRequested': {
        const id = str(d.requestId);
        if (id) requested.set(id, e);
        break;
      }
      case 'SvidIssued': {
        const id = str(d.requestId);
        if (id) ended.add(id);
        const requestedAt = ms(d.requestedAt) ?? ms(id ? requested.get(id)?.detail.requestedAt : undefined);
        if (d.trigger !== 'renewal' && requestedAt !== undefined && at !== undefined) timeToIdentity.push(Math.max(0, at - requestedAt));
        const due = ms(d.renewalDueAt);
        if (d.trigger === 'renewal' && due !== undefined && at !== undefined) renewalLag.push(Math.max(0, Math.round((at - due) / 1000)));
        break;
      }
      case 'SvidIssuanceFailed': {
        const id = str(d.requestId);
        if (id) ended.add(id);
        bump(failuresByReason, str(d.reason) ?? 'unknown');
        break;
      }
      case 'SvidRevoked':
        bump(revokedByReason, str(d.reason) ?? 'UNSPECIFIED');
        break;
      case 'PolicyApplied': {
        const service = str(d.service);
        if (service) {
          lastSync.set(service, e);
          if (typeof d.bytes === 'number') {
            const limit = typeof d.limit === 'number' && d.limit > 0 ? d.limit : 10_000;
            sizes.set(service, { bytes: d.bytes, quotaPercent: Math.round((d.bytes / limit) * 1000) / 10 });
          }
        }
        if (d.trigger === 'GrantChanged' || d.trigger === 'GrantSetReplaced') {
          const trigger = str(d.triggerEventId);
          const triggered = ms(d.triggerOccurredAt) ?? (trigger ? ms(byId.get(trigger)?.detail.occurredAt) : undefined);
          if (triggered !== undefined && at !== undefined) grantToPolicy.push(Math.max(0, at - triggered));
        }
        break;
      }
      case 'PolicySyncFailed': {
        const service = str(d.service);
        if (service) lastSync.set(service, e);
        break;
      }
    }
  }

  const pending: PendingRequest[] = [...requested.entries()]
    .filter(([id]) => !ended.has(id))
    .map(([requestId, e]) => {
      const requestedAt = str(e.detail.requestedAt) ?? e.time;
      return {
        workloadId: str(e.detail.workloadId) ?? '?',
        spiffeId: str(e.detail.spiffeId) ?? '?',
        requestId,
        trigger: str(e.detail.trigger) ?? '?',
        requestedAt,
        ageSeconds: Math.max(0, Math.round((now.getTime() - (ms(requestedAt) ?? now.getTime())) / 1000)),
      };
    })
    .sort((a, b) => b.ageSeconds - a.ageSeconds);
  const policiesOutOfSync = [...lastSync.entries()]
    .filter(([, e]) => e.detailType === 'PolicySyncFailed')
    .map(([service, e]) => ({ service, code: str(e.detail.code) ?? '?', since: str(e.detail.occurredAt) ?? e.time, message: str(e.detail.message) ?? '' }));
  const oldest = pending[0]?.ageSeconds ?? null;

  return {
    window: { from: from.toISOString(), to: now.toISOString(), hours: options.hours },
    events,
    svids: {
      issued: events.SvidIssued ?? 0,
      failed: events.SvidIssuanceFailed ?? 0,
      failuresByReason,
      revokedByReason,
      timeToIdentityMs: percentiles(timeToIdentity),
      renewalLagSeconds: percentiles(renewalLag),
    },
    policies: {
      applied: events.PolicyApplied ?? 0,
      syncFailures: events.PolicySyncFailed ?? 0,
      driftRepaired: events.PolicyDriftRepaired ?? 0,
      grantToPolicyMs: percentiles(grantToPolicy),
      sizes: [...sizes.entries()].map(([service, s]) => ({ service, ...s })).sort((a, b) => b.bytes - a.bytes),
    },
    stuck: { pendingSvidRequests: pending.length, oldestPendingSeconds: oldest, pending: pending.slice(0, 10), deadLetters, policiesOutOfSync },
    healthy: (oldest === null || oldest <= options.pendingGraceSeconds) && Object.values(deadLetters).every((n) => n === 0) && policiesOutOfSync.length === 0,
  };
}
