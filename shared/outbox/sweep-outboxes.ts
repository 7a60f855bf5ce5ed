/**
 * Sweep (a schedule): publishes every outbox whose writer could not (EventBridge was down, the
 * Lambda died), across the tables that keep outboxes, and reports the backlog it found
 * (OutboxBacklog, zero included, every run).
 */
import type { MetricsSink } from '../metrics/metrics';

export interface OutboxSweeper {
  sweep(table: string, keyNames: readonly string[], olderThanMs: number): Promise<{ published: number; failed: number }>;
}

export interface SweepDeps {
  outbox: OutboxSweeper;
  tables: { table: string; keys: string[] }[];
  /** Outboxes younger than this are still being flushed by the request that wrote them. */
  graceMs: number;
  metrics: MetricsSink;
}

export async function sweepOutboxes(deps: SweepDeps): Promise<{ published: number; failed: number }> {
  let published = 0;
  let failed = 0;
  for (const { table, keys } of deps.tables) {
    const result = await deps.outbox.sweep(table, keys, deps.graceMs);
    published += result.published;
    failed += result.failed;
  }
  deps.metrics.emit('OutboxBacklog', published + failed);
  return { published, failed };
}
