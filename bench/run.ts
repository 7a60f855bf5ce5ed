/**
 * `npm run bench`: runs every bench/<area>.ts section (or those named on the command line) one
 * after another, each in a Node process of its own, and writes bench/results/latest.json and
 * latest.md. Ratios are measured side by side in one run; absolute numbers depend on the machine
 * (recorded with them). A process per section because the functions build their SDK clients at
 * module scope, as on Lambda: a function module loaded by one section's in-process stack would keep
 * calling that stack's (stopped) endpoints in the next section's.
 *
 * A section is a file exporting `run(quick?: boolean): Promise<BenchSection>`.
 * `npm run bench -- --quick` (for CI, under a minute): only the sections that export
 * `supportsQuick = true`, each in its short form, written to bench/results/quick.json and quick.md
 * (latest.* keep the full run's figures).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { round, type BenchSection } from './types';

type SectionModule = { run?: (quick?: boolean) => Promise<BenchSection>; supportsQuick?: boolean };
type SectionResult = { skipped: true } | { skipped: false; failed: boolean; section: BenchSection };

const dir = import.meta.dirname;
const args = process.argv.slice(2);
const quick = args.includes('--quick');

// The child side: `run.ts --section <file> <result file> [--quick] [--named]` runs one section and
// writes what it measured (or that it failed, or has nothing to run) to the result file.
const sectionAt = args.indexOf('--section');
if (sectionAt >= 0) {
  const [file = '', resultFile = ''] = args.slice(sectionAt + 1);
  const mod = (await import(join(dir, file))) as SectionModule;
  let result: SectionResult = { skipped: true };
  if (typeof mod.run === 'function' && !(quick && mod.supportsQuick !== true && !args.includes('--named'))) {
    console.log(`\n== ${file}${quick ? ' (quick)' : ''}`);
    // A section that fails is recorded as failed and the others still run; the run then exits 1.
    let failed = false;
    const section = await mod.run(quick).catch((error: unknown): BenchSection => {
      failed = true;
      console.error(error);
      return { title: `${file}: FAILED`, rows: [], notes: [`failed: ${error instanceof Error ? error.message : String(error)}`] };
    });
    console.table(section.rows);
    for (const note of section.notes) console.log(`- ${note}`);
    result = { skipped: false, failed, section };
  }
  writeFileSync(resultFile, JSON.stringify(result));
  process.exit(0);
}

const only = args.filter((a) => a !== '--quick');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'types.ts'].includes(f))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, '')))
  .sort();

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
};
console.log(`machine: ${JSON.stringify(machine)}`);

const failed: string[] = [];
const sections: (BenchSection & { file: string; seconds: number; measuredAt?: string })[] = [];
const work = mkdtempSync(join(tmpdir(), 'trellis-bench-'));
for (const file of files) {
  const resultFile = join(work, `${file}.json`);
  const started = performance.now();
  const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--section', file, resultFile, ...(quick ? ['--quick'] : []), ...(only.length > 0 ? ['--named'] : [])], { stdio: 'inherit' });
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  const result: SectionResult = existsSync(resultFile)
    ? (JSON.parse(readFileSync(resultFile, 'utf8')) as SectionResult)
    : { skipped: false, failed: true, section: { title: `${file}: FAILED`, rows: [], notes: [`failed: its process ended (${child.status ?? child.signal}) before reporting`] } };
  if (result.skipped) continue;
  if (result.failed) failed.push(file);
  sections.push({ ...result.section, file, seconds, measuredAt: machine.date });
}
rmSync(work, { recursive: true, force: true });

const table = (rows: Record<string, string | number>[]): string => {
  const first = rows[0];
  if (!first) return '(no rows)\n';
  const cols = Object.keys(first);
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`)].join('\n') + '\n';
};

const resultsDir = join(dir, 'results');
mkdirSync(resultsDir, { recursive: true });
// A run of some sections (`npm run bench -- <name>`) keeps the other sections' last results, so
// measuring one area does not erase the others; each section says when it was measured.
const base = quick ? 'quick' : 'latest';
const latestJson = join(resultsDir, `${base}.json`);
if (only.length > 0 && existsSync(latestJson)) {
  const previous = JSON.parse(readFileSync(latestJson, 'utf8')) as { machine?: { date?: string }; sections?: (typeof sections)[number][] };
  for (const old of previous.sections ?? []) {
    if (!sections.some((s) => s.file === old.file)) sections.push({ ...old, measuredAt: old.measuredAt ?? previous.machine?.date ?? 'unknown' });
  }
  sections.sort((a, b) => a.file.localeCompare(b.file));
}
writeFileSync(latestJson, `${JSON.stringify({ machine, sections }, null, 2)}\n`);
const md = [
  '# Trellis benchmarks',
  '',
  `Measured by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${machine.date}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}.`,
  'Absolute numbers depend on the machine; compare the ratios, which were measured side by side in the same run.',
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', `(${s.file}, ${s.seconds} s${s.measuredAt === undefined || s.measuredAt === machine.date ? '' : `, measured ${s.measuredAt}`})`, '', table(s.rows), ...s.notes.map((n) => `- ${n}`), '']),
].join('\n');
writeFileSync(join(resultsDir, `${base}.md`), md);
const total = sections.filter((s) => s.measuredAt === machine.date).reduce((sum, s) => sum + s.seconds, 0);
console.log(`\nwrote bench/results/${base}.json and ${base}.md (sections run: ${round(total, 1)} s)`);
if (failed.length > 0) console.error(`failed sections: ${failed.join(', ')}`);
process.exit(failed.length > 0 ? 1 : 0);
