/**
 * `trellis credential-process`: latency of a cold call (CreateSession at the local Roles Anywhere)
 * vs a cached one, as child processes of the built CLI (what the AWS SDK runs) and in-process (the
 * cache alone, without Node's start-up); and how many CreateSession calls the SDK's own fromProcess
 * causes over many credential refreshes, with the SVID rotated half-way (goal: one per certificate).
 * Run alone: `npm run bench -- credential-process`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromProcess } from '@aws-sdk/credential-provider-process';
import { createCsr, exportPrivateKeyPem, generateKeyPair, sessionForSvidDir, writeSvidFiles, type RolesAnywhereSettings } from '@trellis/client';
import { LOCAL_IDENTITY, LOCAL_REGION, startStandIns, type StandIns } from '../local/stand-ins';
import { percentile, round, type BenchSection } from './types';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'client', 'dist', 'trellis.mjs');
const PROCESS_RUNS = Number(process.env.BENCH_CREDENTIAL_PROCESS_RUNS ?? 5);
const IN_PROCESS_RUNS = 20;
/** Refreshes per certificate through fromProcess. Each starts a Node process: 1,000 would take minutes on 2 cores. */
const REFRESHES = Number(process.env.BENCH_CREDENTIAL_PROCESS_REFRESHES ?? 10);
const REFRESH_CONCURRENCY = 2;
const ORDERS = 'spiffe://example.org/service/orders';

const median = (values: number[]): number => percentile(values, 50);

async function writeSvid(standIns: StandIns, dir: string): Promise<void> {
  const keys = await generateKeyPair('P-256');
  const issued = await standIns.acmPca.ca.issue({
    csrPem: await createCsr({ keys, spiffeId: ORDERS }),
    template: 'EndEntityCertificate_APIPassthrough/V1',
    validity: { Type: 'DAYS', Value: 1 },
    apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: ORDERS }] } },
  });
  await writeSvidFiles(dir, { certificatePem: issued.certificatePem, keyPem: await exportPrivateKeyPem(keys.privateKey), bundlePem: standIns.acmPca.caCertificatePem });
}

export async function run(): Promise<BenchSection> {
  // The bench measures the bundle the SDK would run: build it from the current source.
  await exec('npm', ['run', 'build', '-w', '@trellis/client'], { cwd: ROOT });
  const root = mkdtempSync(join(tmpdir(), 'trellis-bench-cp-'));
  // Other work on the machine slows process start-up most: recorded beside the numbers.
  const loadAtStart = round(loadavg()[0] ?? 0, 1);
  const standIns = await startStandIns({ stateDir: join(root, 'state') });
  try {
    const svidDir = join(root, 'svid');
    await writeSvid(standIns, svidDir);
    const settings: RolesAnywhereSettings = {
      endpoint: standIns.rolesAnywhere.endpoint,
      region: LOCAL_REGION,
      trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
      profileArn: LOCAL_IDENTITY.profileArn,
      roleArn: LOCAL_IDENTITY.workloadRoleArn,
    };
    const args = (cacheDir: string): string[] => [
      'credential-process',
      '--svid-dir',
      svidDir,
      '--trust-anchor-arn',
      settings.trustAnchorArn,
      '--profile-arn',
      settings.profileArn,
      '--role-arn',
      settings.roleArn,
      '--region',
      settings.region,
      '--endpoint',
      settings.endpoint,
      '--cache-dir',
      cacheDir,
    ];
    const sessions = (): number => standIns.rolesAnywhere.credentials.size;
    const timed = async (fn: () => Promise<unknown>): Promise<number> => {
      const started = performance.now();
      await fn();
      return performance.now() - started;
    };
    const runCli = (cacheDir: string) => exec(process.execPath, [CLI, ...args(cacheDir)]);

    // Child processes, one at a time: cold = a new empty cache each run; cached = one warm cache.
    await runCli(join(root, 'warm-up'));
    const coldMs: number[] = [];
    for (let i = 0; i < PROCESS_RUNS; i++) coldMs.push(await timed(() => runCli(join(root, `cold-${i}`))));
    const warmCache = join(root, 'warm');
    await runCli(warmCache);
    const cachedMs: number[] = [];
    for (let i = 0; i < PROCESS_RUNS; i++) cachedMs.push(await timed(() => runCli(warmCache)));

    // The same in this process: what the cache saves, without Node's start-up and module loading.
    const inColdMs: number[] = [];
    for (let i = 0; i < IN_PROCESS_RUNS; i++) inColdMs.push(await timed(() => sessionForSvidDir({ svidDir, settings, cacheDir: join(root, `in-cold-${i}`) })));
    const inCache = join(root, 'in-warm');
    await sessionForSvidDir({ svidDir, settings, cacheDir: inCache });
    const inCachedMs: number[] = [];
    for (let i = 0; i < IN_PROCESS_RUNS; i++) inCachedMs.push(await timed(() => sessionForSvidDir({ svidDir, settings, cacheDir: inCache })));

    // SDK refreshes through the real consumer, two at a time, the SVID rotated half-way.
    const refreshCache = join(root, 'refresh-cache');
    const configFilepath = join(root, 'config');
    const filepath = join(root, 'credentials');
    writeFileSync(configFilepath, `[profile orders]\nregion = ${LOCAL_REGION}\ncredential_process = ${[process.execPath, CLI, ...args(refreshCache)].join(' ')}\n`);
    writeFileSync(filepath, '');
    const provider = fromProcess({ profile: 'orders', filepath, configFilepath });
    const before = sessions();
    const keys = new Set<string>();
    let done = 0;
    const refreshStarted = performance.now();
    const worker = async (): Promise<void> => {
      while (done < REFRESHES) {
        done++;
        keys.add((await provider()).accessKeyId);
      }
    };
    await Promise.all(Array.from({ length: REFRESH_CONCURRENCY }, worker));
    await writeSvid(standIns, svidDir); // rotation: new key, new serial
    done = 0;
    await Promise.all(Array.from({ length: REFRESH_CONCURRENCY }, worker));
    const refreshSeconds = (performance.now() - refreshStarted) / 1000;
    const refreshes = 2 * REFRESHES;
    const calls = sessions() - before;

    // 1,000 refreshes through the same file cache code the CLI runs, in this process (no Node start-up
    // per refresh), 10 at a time, the SVID rotated half-way: the CreateSession count per 1,000.
    const thousandCache = join(root, 'thousand-cache');
    const beforeThousand = sessions();
    const thousandStarted = performance.now();
    let refreshed = 0;
    const refresher = async (limit: number): Promise<void> => {
      while (refreshed < limit) {
        refreshed++;
        await sessionForSvidDir({ svidDir, settings, cacheDir: thousandCache });
      }
    };
    await Promise.all(Array.from({ length: 10 }, () => refresher(500)));
    await writeSvid(standIns, svidDir);
    await Promise.all(Array.from({ length: 10 }, () => refresher(1000)));
    const thousandSeconds = (performance.now() - thousandStarted) / 1000;
    const thousandCalls = sessions() - beforeThousand;

    const cold = median(coldMs);
    const cached = median(cachedMs);
    return {
      title: 'credential-process: cold (CreateSession) vs cached, and CreateSession calls per SDK refreshes',
      rows: [
        { case: `credential-process child process, cold (empty cache → CreateSession), median of ${PROCESS_RUNS}`, 'ms': round(cold, 1), 'cold / cached': round(cold / cached, 2) },
        { case: `credential-process child process, cached, median of ${PROCESS_RUNS}`, 'ms': round(cached, 1), 'cold / cached': 1 },
        { case: `sessionForSvidDir in-process, cold, median of ${IN_PROCESS_RUNS}`, 'ms': round(median(inColdMs), 2), 'cold / cached': round(median(inColdMs) / median(inCachedMs), 2) },
        { case: `sessionForSvidDir in-process, cached, median of ${IN_PROCESS_RUNS}`, 'ms': round(median(inCachedMs), 2), 'cold / cached': 1 },
        {
          case: `fromProcess refreshes: ${refreshes} over 2 certificates (${REFRESH_CONCURRENCY} at a time, ${round(refreshSeconds, 1)} s)`,
          'ms': round((refreshSeconds * 1000) / refreshes, 1),
          'cold / cached': `${calls} CreateSession calls (${round(calls / 2, 2)} per certificate), ${keys.size} distinct access keys`,
        },
        {
          case: `file-cache refreshes in-process: 1,000 over 2 certificates (10 at a time, ${round(thousandSeconds, 1)} s)`,
          'ms': round((thousandSeconds * 1000) / 1000, 2),
          'cold / cached': `${thousandCalls} CreateSession calls per 1,000 refreshes (${round(thousandCalls / 2, 2)} per certificate)`,
        },
      ],
      notes: [
        'Child-process times include Node start-up and loading the CLI bundle, the same for cold and cached; the in-process rows show the cache alone.',
        `The SDK's fromProcess runs the credential process on every refresh; the file cache answers all but the first per certificate. ${refreshes} refreshes were run rather than 1,000: each starts a Node process (a third of a second or more here), so 1,000 would take minutes on 2 cores (BENCH_CREDENTIAL_PROCESS_REFRESHES sets the number per certificate); the next row runs 1,000 through the same cache code in-process.`,
        'CreateSession calls are counted at the local Roles Anywhere (sessions it issued).',
        `1-minute load average when the section started: ${loadAtStart} (above the ${cpus().length} cores means other processes competed for the CPU).`,
      ],
    };
  } finally {
    await standIns.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
