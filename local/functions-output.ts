/**
 * The output of serverless offline's process (its own messages and the functions' structured JSON
 * log lines), line by line: local/stack.ts hands every line to onFunctionsOutputLine, the one place
 * where they are consumed.
 */

/** Where the lines serverless offline's process prints go. */
export interface FunctionsOutputSinks {
  /** .trellis/logs/functions.log */
  file: NodeJS.WritableStream;
  /** The terminal with --verbose; undefined otherwise. */
  echo?: NodeJS.WritableStream;
  /** Each line also goes here: the metrics log keeps the EMF lines (metrics-log.ts). */
  metrics?: (line: string) => void;
}

/**
 * THE place each line serverless offline's process prints is consumed (its own messages, and the
 * functions' structured JSON log lines). Every line goes to functions.log and, with --verbose, to the
 * terminal. The metric lines of the functions are also copied to metrics.log from here.
 */
export function onFunctionsOutputLine(line: string, sinks: FunctionsOutputSinks): void {
  sinks.file.write(`${line}\n`);
  sinks.echo?.write(`${line}\n`);
  sinks.metrics?.(line);
}

/** Splits a stream's chunks into lines (a chunk may end mid-line); the last partial line is handed over at the end. */
export function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.on('data', (chunk: Buffer | string) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (rest !== '') onLine(rest);
    rest = '';
  });
}
