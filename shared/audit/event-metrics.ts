/**
 * The metrics an event stands for, derived from its detail alone. Tolerant by design: the audit
 * sees every event, including ones published by older versions (a redrive), so a missing or
 * malformed field drops that one figure, never the event.
 */
import type { MetricName } from '../metrics/catalog';
import { DEFAULT_MAX_POLICY_BYTES } from '../policy/compiler';

export interface MetricValue {
  name: MetricName;
  value: number;
  /** The value of the metric's extra dimension (catalogue `extraDimension`), if it has one. */
  extra?: string;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const millis = (v: unknown): number | undefined => {
  const s = text(v);
  const t = s === undefined ? NaN : Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

export function eventMetrics(detailType: string, detail: Record<string, unknown>): MetricValue[] {
  const occurred = millis(detail.occurredAt);
  switch (detailType) {
    case 'SvidIssued': {
      const out: MetricValue[] = [{ name: 'SvidsIssued', value: 1 }];
      const requested = millis(detail.requestedAt);
      if (detail.trigger !== 'renewal' && requested !== undefined && occurred !== undefined) out.push({ name: 'TimeToIdentity', value: Math.max(0, occurred - requested) });
      const due = millis(detail.renewalDueAt);
      if (detail.trigger === 'renewal' && due !== undefined && occurred !== undefined) out.push({ name: 'RenewalLag', value: Math.max(0, (occurred - due) / 1000) });
      return out;
    }
    case 'SvidIssuanceFailed':
      return [{ name: 'SvidIssuanceFailures', value: 1, extra: text(detail.reason) ?? 'unknown' }];
    case 'SvidRevoked':
      // The reason may be absent on events of older versions.
      return [{ name: 'SvidsRevoked', value: 1, extra: text(detail.reason) ?? 'UNSPECIFIED' }];
    case 'PolicyApplied': {
      const service = text(detail.service) ?? 'unknown';
      const out: MetricValue[] = [];
      const bytes = num(detail.bytes);
      if (bytes !== undefined) {
        const limit = num(detail.limit) ?? DEFAULT_MAX_POLICY_BYTES;
        out.push({ name: 'PolicyBytes', value: bytes, extra: service }, { name: 'PolicyQuotaUsed', value: Math.round((bytes / limit) * 1000) / 10, extra: service });
      }
      const triggered = millis(detail.triggerOccurredAt);
      if ((detail.trigger === 'GrantChanged' || detail.trigger === 'GrantSetReplaced') && triggered !== undefined && occurred !== undefined) {
        out.push({ name: 'GrantToPolicyLatency', value: Math.max(0, occurred - triggered) });
      }
      return out;
    }
    case 'PolicySyncFailed':
      return [{ name: 'PolicySyncFailures', value: 1 }];
    case 'PolicyDriftRepaired':
      return [{ name: 'PolicyDriftRepaired', value: 1 }];
    default:
      return [];
  }
}
