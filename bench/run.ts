/**
 * `npm run bench`: runs every bench/<area>.ts section (or those named on the command line) one
 * after another in this process, and writes bench/results/latest.json and latest.md. Ratios are
 * measured side by side in one run; absolute numbers depend on the machine (recorded with them).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchSection } from './types';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
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

const sections: (BenchSection & { file: string; seconds: number; measuredAt?: string })[] = [];
for (const file of files) {
  const mod = (await import(join(dir, file))) as { run?: () => Promise<BenchSection> };
  if (typeof mod.run !== 'function') continue;
  console.log(`\n== ${file}`);
  const started = performance.now();
  const section = await mod.run();
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
const latestJson = join(resultsDir, 'latest.json');
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
  `Measured by \`npm run bench\` on ${machine.date}: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}.`,
  'Absolute numbers depend on the machine; compare the ratios, which were measured side by side in the same run.',
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', `(${s.file}, ${s.seconds} s${s.measuredAt === undefined || s.measuredAt === machine.date ? '' : `, measured ${s.measuredAt}`})`, '', table(s.rows), ...s.notes.map((n) => `- ${n}`), '']),
].join('\n');
writeFileSync(join(resultsDir, 'latest.md'), md);
console.log(`\nwrote bench/results/latest.json and latest.md`);
process.exit(0);
