/**
 * Record an event (the audit function, on every Trellis event): the audit trail keeps it once, and
 * the first recording emits the metrics it stands for (event-metrics.ts), so a redelivered event is
 * neither kept nor counted twice.
 */
import { clock, type AuditDeps } from './deps';
import { eventMetrics } from './event-metrics';
import type { AuditEntry } from './model';

export async function recordEvent(deps: AuditDeps, entry: AuditEntry): Promise<{ recorded: boolean }> {
  const recorded = await deps.audit.record(entry, clock(deps));
  if (!recorded) return { recorded };
  for (const m of eventMetrics(entry.detailType, entry.detail)) deps.metrics.emit(m.name, m.value, m.extra);
  return { recorded };
}
