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
 * The metrics log of one stack: each whole line of the functions' output goes through it (stack.ts,
 * via onFunctionsOutputLine) and the EMF documents among them are appended to `file`, which starts empty.
 */
export function metricsLogFile(file: string): (line: string) => void {
  writeFileSync(file, '');
  return (line) => {
    if (isEmfDocument(line)) appendFileSync(file, `${line.trim()}\n`);
  };
}
