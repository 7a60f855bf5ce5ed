/** The local metrics log keeps exactly the EMF lines of the functions' output, however it is chunked. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFunctionsOutputLine } from '../../local/functions-output';
import { isEmfDocument, metricsLogFile } from '../../local/metrics-log';

const emf = JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'Trellis', Dimensions: [['service', 'stage']], Metrics: [{ Name: 'SvidsIssued', Unit: 'Count' }] }] }, service: 'trellis', stage: 'local', SvidsIssued: 1 });

describe('metrics log', () => {
  it('recognises EMF documents only', () => {
    expect(isEmfDocument(emf)).toBe(true);
    expect(isEmfDocument('{"level":"INFO","message":"CloudWatchMetrics"}')).toBe(false);
    expect(isEmfDocument('offline: GET /local/workloads')).toBe(false);
    expect(isEmfDocument('{"_aws": {"CloudWatchMetrics": [')).toBe(false);
  });

  it('appends the EMF lines of the functions\' output and nothing else, through the one output-line consumer', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'trellis-metrics-log-')), 'metrics.log');
    const metrics = metricsLogFile(file);
    const functionsLog: string[] = [];
    const sinks = { file: { write: (s: string) => functionsLog.push(s) } as unknown as NodeJS.WritableStream, metrics };
    for (const line of ['{"level":"INFO"}', emf, 'noise', `  ${emf}`]) onFunctionsOutputLine(line, sinks);
    expect(readFileSync(file, 'utf8')).toBe(`${emf}\n${emf}\n`);
    expect(functionsLog).toHaveLength(4);
  });
});
