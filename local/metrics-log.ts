/**
 * The local stack's metrics: the functions print CloudWatch embedded metric format documents on
 * stdout, as in Lambda (where CloudWatch Logs turns them into metrics); locally every such line of
 * serverless offline's output is also appended to .trellis/logs/metrics.log, so the same figures
 * can be read without CloudWatch. One call site: where the functions' output is read (stack.ts).
 */
import { appendFileSync, writeFileSync } from 'node:fs';

/** True when the line is one EMF document (a JSON object with `_aws.CloudWatchMetrics`). */
export function isEmfDocument(line: string): boolean {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.includes('"CloudWatchMetrics"')) return false;
  try {
    const doc = JSON.parse(trimmed) as { _aws?: { CloudWatchMetrics?: unknown } };
    return Array.isArray(doc._aws?.CloudWatchMetrics);
  } catch {
    return false;
  }
}

/**
 * A sink for the functions' output, chunk by chunk and stream by stream (`source` names the
 * stream): whole lines that are EMF documents are appended to `file`, which starts empty. Chunks
 * may split lines; a partial line waits for its end.
 */
export function metricsLogSink(file: string): (chunk: Buffer | string, source: string) => void {
  writeFileSync(file, '');
  const partial = new Map<string, string>();
  return (chunk, source) => {
    const lines = ((partial.get(source) ?? '') + chunk.toString()).split('\n');
    partial.set(source, lines.pop() ?? '');
    const emf = lines.filter(isEmfDocument);
    if (emf.length > 0) appendFileSync(file, `${emf.map((l) => l.trim()).join('\n')}\n`);
  };
}
