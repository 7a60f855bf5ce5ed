/** The operations status from audit entries: percentiles, pending requests, policies out of sync. */
import { describe, expect, it } from 'vitest';
import { operationsStatus, percentiles, type StatusDeps } from '../../shared/audit/status';
import type { AuditEntry } from '../../shared/audit/model';

const NOW = new Date('2026-01-01T12:00:00Z');
const at = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();
let n = 0;
const e = (detailType: string, detail: Record<string, unknown>): AuditEntry => ({ eventId: `e${(n += 1)}`, detailType, time: String(detail.occurredAt ?? at(0)), detail });
const deps = (entries: AuditEntry[], deadLetters: Record<string, number> = { dlq: 0 }): StatusDeps => ({ audit: { since: async () => entries }, deadLetters: { depths: async () => deadLetters }, now: () => NOW });

describe('percentiles', () => {
  it('are nearest-rank: each figure one that was measured', () => {
    expect(percentiles([])).toEqual({ count: 0, p50: null, p95: null, max: null });
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ count: 5, p50: 3, p95: 5, max: 5 });
    expect(percentiles(Array.from({ length: 100 }, (_, i) => i + 1))).toMatchObject({ p50: 50, p95: 95 });
  });
});

describe('operationsStatus', () => {
  it('measures time to identity (also from SvidRequested when SvidIssued has no requestedAt) and grant-to-policy latency', async () => {
    const grant = e('GrantChanged', { occurredAt: at(100), service: 'billing' });
    const status = await operationsStatus(
      deps([
        e('SvidRequested', { requestId: 'r1', workloadId: 'w1', spiffeId: 's1', trigger: 'registration', requestedAt: at(60), occurredAt: at(60) }),
        e('SvidIssued', { requestId: 'r1', trigger: 'registration', occurredAt: at(58) }),
        e('SvidIssued', { requestId: 'r2', trigger: 'csr-submitted', requestedAt: at(30), occurredAt: at(26) }),
        grant,
        e('PolicyApplied', { service: 'billing', bytes: 9_500, limit: 10_000, trigger: 'GrantChanged', triggerEventId: grant.eventId, occurredAt: at(99) }),
        e('SvidRevoked', { reason: 'KEY_COMPROMISE', occurredAt: at(10) }),
      ]),
      { hours: 1, pendingGraceSeconds: 120 },
    );
    expect(status.svids.timeToIdentityMs).toEqual({ count: 2, p50: 2000, p95: 4000, max: 4000 });
    expect(status.policies.grantToPolicyMs).toEqual({ count: 1, p50: 1000, p95: 1000, max: 1000 });
    expect(status.policies.sizes).toEqual([{ service: 'billing', bytes: 9_500, quotaPercent: 95 }]);
    expect(status.svids.revokedByReason).toEqual({ KEY_COMPROMISE: 1 });
    expect(status.healthy).toBe(true);
  });

  it('lists requests with no outcome oldest first, dead letters and services whose last sync failed, and is then not healthy', async () => {
    const status = await operationsStatus(
      deps(
        [
          e('SvidRequested', { requestId: 'young', workloadId: 'w1', spiffeId: 's1', trigger: 'csr-submitted', requestedAt: at(10), occurredAt: at(10) }),
          e('SvidRequested', { requestId: 'old', workloadId: 'w2', spiffeId: 's2', trigger: 'renewal', requestedAt: at(500), occurredAt: at(500) }),
          e('PolicyApplied', { service: 'rates', bytes: 100, trigger: 'reconcile', occurredAt: at(400) }),
          e('PolicySyncFailed', { service: 'rates', code: 'AccessDeniedException', message: 'no', occurredAt: at(300) }),
          e('PolicySyncFailed', { service: 'billing', code: 'Throttling', message: 'x', occurredAt: at(300) }),
          e('PolicyApplied', { service: 'billing', bytes: 100, trigger: 'reconcile', occurredAt: at(200) }),
        ],
        { dlq: 2 },
      ),
      { hours: 1, pendingGraceSeconds: 120 },
    );
    expect(status.stuck.pending.map((p) => [p.requestId, p.ageSeconds])).toEqual([
      ['old', 500],
      ['young', 10],
    ]);
    expect(status.stuck.oldestPendingSeconds).toBe(500);
    expect(status.stuck.policiesOutOfSync.map((p) => [p.service, p.code])).toEqual([['rates', 'AccessDeniedException']]);
    expect(status.stuck.deadLetters).toEqual({ dlq: 2 });
    expect(status.healthy).toBe(false);
  });
});
