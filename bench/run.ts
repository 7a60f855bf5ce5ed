/**
 * `npm run bench`: runs every bench/<area>.ts section (or those named on the command line) one
 * after another in this process, and writes bench/results/latest.json and latest.md. Ratios are
 * measured side by side in one run; absolute numbers depend on the machine (recorded with them).
 *
 * A section is a file exporting `run(quick?: boolean): Promise<BenchSection>`.
 * `npm run bench -- --quick` (for CI, under a minute): only the sections that export
 * `supportsQuick = true`, each in its short form, written to bench/results/quick.json and quick.md
 * (latest.* keep the full run's figures).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { round, type BenchSection } from './types';

const dir = import.meta.dirname;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
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
for (const file of files) {
  const mod = (await import(join(dir, file))) as { run?: (quick?: boolean) => Promise<BenchSection>; supportsQuick?: boolean };
  if (typeof mod.run !== 'function') continue;
  if (quick && mod.supportsQuick !== true && only.length === 0) continue;
  console.log(`\n== ${file}${quick ? ' (quick)' : ''}`);
  const started = performance.now();
  // A section that fails is recorded as failed and the others still run; the run then exits 1.
  const section = await mod.run(quick).catch((error: unknown): BenchSection => {
    failed.push(file);
    console.error(error);
    return { title: `${file}: FAILED`, rows: [], notes: [`failed: ${error instanceof Error ? error.message : String(error)}`] };
  });
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  sections.push({ ...section, file, seconds, measuredAt: machine.date });
  console.table(section.rows);
  for (const note of section.notes) console.log(`- ${note}`);
}

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
