/**
 * Global setup of the fault suite: gives the test files a file to append their counts to, and
 * prints every suite's counts (requests, faults injected, outcomes) once all have run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-faults-'));
  const file = join(dir, 'counts.jsonl');
  process.env.TRELLIS_FAULTS_REPORT = file;
  return () => {
    let lines: { suite: string; counts: Record<string, number | string> }[] = [];
    try {
      lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as (typeof lines)[number]);
    } catch {
      // no suite reported
    }
    console.log('\n== fault suite counts');
    for (const { suite, counts } of lines) console.log(`${suite}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
  };
}
