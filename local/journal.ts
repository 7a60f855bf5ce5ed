/**
 * An append-only JSON-lines journal for the local stand-ins that must keep what they accepted across
 * a crash (`npm start --persist DIR`): the local EventBridge (events accepted, not yet delivered) and
 * the local SQS (messages sent, not yet deleted).
 *
 * Writes are synchronous on purpose: a stand-in acknowledges an event or a message only after its
 * line is in the file, so a SIGKILL right after the acknowledgement cannot lose it (the page cache
 * survives the process; a power loss is out of scope for a local stack). The volumes are small
 * (thousands of lines), so the cost is a few microseconds a line. On open, the journal is replayed
 * and rewritten with only what is still live (compaction), so it does not grow across restarts.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class Journal<T> {
  private constructor(private readonly file: string) {}

  /** Reads every complete line (a torn last line, from a crash mid-write, is skipped). */
  static read<T>(file: string): T[] {
    if (!existsSync(file)) return [];
    const out: T[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // torn line
      }
    }
    return out;
  }

  /** Replaces the file with `live` (atomically: write then rename) and opens it for appending. */
  static compact<T>(file: string, live: T[]): Journal<T> {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, live.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    renameSync(tmp, file);
    return new Journal<T>(file);
  }

  append(entry: T): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}
