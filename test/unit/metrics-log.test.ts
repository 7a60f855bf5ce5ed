/** The local metrics log keeps exactly the EMF lines of the functions' output, however it is chunked. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEmfDocument, metricsLogSink } from '../../local/metrics-log';

const emf = JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'Trellis', Dimensions: [['service', 'stage']], Metrics: [{ Name: 'SvidsIssued', Unit: 'Count' }] }] }, service: 'trellis', stage: 'local', SvidsIssued: 1 });

describe('metrics log', () => {
  it('recognises EMF documents only', () => {
    expect(isEmfDocument(emf)).toBe(true);
    expect(isEmfDocument('{"level":"INFO","message":"CloudWatchMetrics"}')).toBe(false);
    expect(isEmfDocument('offline: GET /local/workloads')).toBe(false);
    expect(isEmfDocument('{"_aws": {"CloudWatchMetrics": [')).toBe(false);
  });

  it('appends whole EMF lines, across chunk boundaries and per stream', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'trellis-metrics-log-')), 'metrics.log');
    const sink = metricsLogSink(file);
    const text = `{"level":"INFO"}\n${emf}\nnoise\n${emf}\n`;
    sink(text.slice(0, 30), 'stdout');
    sink('{"level":"WARN"', 'stderr');
    sink(text.slice(30), 'stdout');
    sink('}\n', 'stderr');
    expect(readFileSync(file, 'utf8')).toBe(`${emf}\n${emf}\n`);
  });
});
