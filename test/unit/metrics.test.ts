/**
 * Metrics: each event is counted once (a redelivery is not), with the catalogue's unit in the EMF
 * document Powertools writes; the PCA seam counts throttles and retries; the watchdog, the
 * outbox sweep and the reconcile report their gauges every run.
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { recordEvent } from '../../shared/audit/record-event';
import type { AuditEntry } from '../../shared/audit/model';
import type { AuditDeps } from '../../shared/audit/deps';
import { METRICS_NAMESPACE, METRICS_SERVICE, metricCatalog, type MetricName } from '../../shared/metrics/catalog';
import { PowertoolsMetricsSink, type MetricsSink } from '../../shared/metrics/metrics';
import { sweepOutboxes } from '../../shared/outbox/sweep-outboxes';
import { withPcaRetries } from '../../shared/svid/pca-retries';
import type { IssuerDeps, PcaDeps } from '../../shared/svid/deps';
import type { SvidState } from '../../shared/svid/model';
import { redrivePending } from '../../shared/svid/watchdog';

interface Emitted { name: MetricName; value: number; extra?: string }
class RecordingSink implements MetricsSink {
  readonly emitted: Emitted[] = [];
  emit(name: MetricName, value: number, extra?: string): void {
    this.emitted.push({ name, value, ...(extra === undefined ? {} : { extra }) });
  }
  names(): MetricName[] {
    return this.emitted.map((e) => e.name);
  }
}

function auditDeps(metrics: MetricsSink): AuditDeps {
  const seen = new Set<string>();
  return {
    metrics,
    audit: {
      record: async (entry) => (seen.has(entry.eventId) ? false : (seen.add(entry.eventId), true)),
      since: async () => [],
    },
  };
}

const entry = (detailType: string, detail: Record<string, unknown>, eventId = `${detailType}-1`): AuditEntry => ({ eventId, detailType, time: '2026-01-01T00:00:10Z', detail });

describe('recordEvent', () => {
  it('emits SvidsIssued and TimeToIdentity once per SvidIssued, not again on a redelivery', async () => {
    const sink = new RecordingSink();
    const deps = auditDeps(sink);
    const issued = entry('SvidIssued', { trigger: 'registration', requestedAt: '2026-01-01T00:00:00.000Z', occurredAt: '2026-01-01T00:00:01.250Z' });
    expect(await recordEvent(deps, issued)).toEqual({ recorded: true });
    expect(await recordEvent(deps, issued)).toEqual({ recorded: false });
    expect(sink.emitted).toEqual([
      { name: 'SvidsIssued', value: 1 },
      { name: 'TimeToIdentity', value: 1250 },
    ]);
  });

  it('emits RenewalLag (seconds past the half-life) for a renewal, not TimeToIdentity', async () => {
    const sink = new RecordingSink();
    await recordEvent(auditDeps(sink), entry('SvidIssued', { trigger: 'renewal', requestedAt: '2026-01-01T00:00:00Z', renewalDueAt: '2026-01-01T00:00:00Z', occurredAt: '2026-01-01T00:00:30Z' }));
    expect(sink.emitted).toEqual([
      { name: 'SvidsIssued', value: 1 },
      { name: 'RenewalLag', value: 30 },
    ]);
  });

  it('counts revocations by reason, UNSPECIFIED when an older event has none', async () => {
    const sink = new RecordingSink();
    const deps = auditDeps(sink);
    await recordEvent(deps, entry('SvidRevoked', { reason: 'KEY_COMPROMISE' }, 'a'));
    await recordEvent(deps, entry('SvidRevoked', {}, 'b'));
    expect(sink.emitted).toEqual([
      { name: 'SvidsRevoked', value: 1, extra: 'KEY_COMPROMISE' },
      { name: 'SvidsRevoked', value: 1, extra: 'UNSPECIFIED' },
    ]);
  });

  it('emits policy size, quota share and grant-to-enforcement latency from PolicyApplied', async () => {
    const sink = new RecordingSink();
    await recordEvent(
      auditDeps(sink),
      entry('PolicyApplied', { service: 'billing', bytes: 9_100, limit: 10_000, trigger: 'GrantChanged', triggerOccurredAt: '2026-01-01T00:00:00.000Z', occurredAt: '2026-01-01T00:00:00.800Z' }),
    );
    expect(sink.emitted).toEqual([
      { name: 'PolicyBytes', value: 9_100, extra: 'billing' },
      { name: 'PolicyQuotaUsed', value: 91, extra: 'billing' },
      { name: 'GrantToPolicyLatency', value: 800 },
    ]);
  });

  it('has no latency for a reconcile, and counts failures, drift repairs and issuance failures once each', async () => {
    const sink = new RecordingSink();
    const deps = auditDeps(sink);
    await recordEvent(deps, entry('PolicyApplied', { service: 'rates', bytes: 500, trigger: 'reconcile', occurredAt: '2026-01-01T00:00:00Z' }));
    await recordEvent(deps, entry('PolicySyncFailed', { service: 'rates' }));
    await recordEvent(deps, entry('PolicyDriftRepaired', { service: 'rates' }));
    await recordEvent(deps, entry('SvidIssuanceFailed', { reason: 'throttled' }));
    await recordEvent(deps, entry('GrantChanged', {}));
    expect(sink.names()).toEqual(['PolicyBytes', 'PolicyQuotaUsed', 'PolicySyncFailures', 'PolicyDriftRepaired', 'SvidIssuanceFailures']);
    expect(sink.emitted.at(-1)).toEqual({ name: 'SvidIssuanceFailures', value: 1, extra: 'throttled' });
  });
});

describe('PowertoolsMetricsSink', () => {
  it('writes each metric with the catalogue unit, namespace Trellis, dimensions service and stage', () => {
    const target = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, defaultDimensions: { stage: 'test' } });
    const sink = new PowertoolsMetricsSink(target);
    for (const name of Object.keys(metricCatalog) as MetricName[]) {
      if ('extraDimension' in metricCatalog[name]) continue; // flushed at once as its own document
      sink.emit(name, 1);
    }
    const emf = target.serializeMetrics();
    const directive = emf._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe('Trellis');
    expect(directive?.Dimensions).toEqual([['service', 'stage']]);
    const units = Object.fromEntries((directive?.Metrics ?? []).map((m) => [m.Name, m.Unit]));
    for (const [name, unit] of Object.entries(units)) expect(unit).toBe(metricCatalog[name as MetricName].unit);
    expect(Object.keys(units).length).toBe((Object.keys(metricCatalog) as MetricName[]).filter((n) => !('extraDimension' in metricCatalog[n])).length);
    target.clearMetrics();
  });
});

describe('emitters outside the audit', () => {
  it('withPcaRetries counts each throttle and each retry once', async () => {
    const sink = new RecordingSink();
    const throttle = Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    let calls = 0;
    const deps = { metrics: sink, sleep: async () => undefined, random: () => 0 } as unknown as PcaDeps;
    const result = await withPcaRetries(deps, async () => {
      calls += 1;
      if (calls < 3) throw throttle;
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(sink.names()).toEqual(['PcaThrottles', 'PcaRetries', 'PcaThrottles', 'PcaRetries']);
  });

  it('the outbox sweep reports its backlog once per run, zero included', async () => {
    const sink = new RecordingSink();
    const counts = [{ published: 2, failed: 1 }, { published: 0, failed: 0 }];
    let i = 0;
    const deps = { outbox: { sweep: async () => counts[i++ % 2] ?? { published: 0, failed: 0 } }, tables: [{ table: 'a', keys: ['id'] }, { table: 'b', keys: ['id'] }], graceMs: 0, metrics: sink };
    expect(await sweepOutboxes(deps)).toEqual({ published: 2, failed: 1 });
    expect(sink.emitted).toEqual([{ name: 'OutboxBacklog', value: 3 }]);
  });

  it('the watchdog reports pending requests past the re-drive point and the oldest age once per run, zero included', async () => {
    const now = new Date('2026-01-01T00:10:00Z');
    const pending = (id: string, ageSeconds: number): SvidState => ({
      workloadId: id,
      spiffeId: `spiffe://example.org/${id}`,
      status: 'pending',
      request: { requestId: `r-${id}`, csr: 'x', requestedAt: new Date(now.getTime() - ageSeconds * 1000).toISOString(), trigger: 'csr-submitted' },
    });
    const run = async (states: SvidState[]): Promise<Emitted[]> => {
      const sink = new RecordingSink();
      const deps = {
        metrics: sink,
        now: () => now,
        svids: { due: async () => ({ items: states.map((s) => ({ workloadId: s.workloadId, dueAt: now.toISOString() })) }), get: async (id: string) => states.find((s) => s.workloadId === id) },
      } as unknown as IssuerDeps;
      await redrivePending(deps, { boundMs: 400_000, rateWaitDeadline: () => 0 });
      return sink.emitted;
    };
    expect(await run([])).toEqual([
      { name: 'PendingSvidRequests', value: 0 },
      { name: 'OldestPendingSvidRequestAge', value: 0 },
    ]);
    // Younger than a quarter of the bound (100 s): not re-driven, but its age is reported.
    expect(await run([pending('a', 50), pending('b', 20)])).toEqual([
      { name: 'PendingSvidRequests', value: 0 },
      { name: 'OldestPendingSvidRequestAge', value: 50 },
    ]);
  });
});
