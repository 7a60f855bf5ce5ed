/** `trellis svid fetch [--watch]`: the workload's key made here, its SVID fetched and rotated into files. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { WorkloadEdgeError } from '../edge-error';
import { fetchSvidWithRetry, runSvidAgent, type AgentEvent, type FetchedSvid } from '../svid-agent';
import { apiFor } from './admin-commands';
import { globalOptions, output } from './context';

interface FetchOptions {
  spiffeId: string;
  out: string;
  watch?: boolean;
  onRotate?: string;
  rotateAt: number;
  timeout: number;
}

const parseFraction = (value: string): number => {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('must be a fraction of the lifetime between 0 and 1, e.g. 0.5');
  return n;
};

const parseSeconds = (value: string): number => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
};

const describe = (s: FetchedSvid): string =>
  [`wrote the SVID of ${s.spiffeId} (serial ${s.serialNumber}, valid until ${s.notAfter})`, `  ${s.files.svid}`, `  ${s.files.key} (0600)`, `  ${s.files.bundle}`].join('\n');

const errorText = (error: unknown): string =>
  error instanceof WorkloadEdgeError || (error instanceof Error && 'code' in error) ? `${(error as { code: string }).code}: ${error.message}` : error instanceof Error ? error.message : String(error);

/** Runs the --on-rotate command through the shell, its output to our stderr (stdout carries results). */
function runHook(command: string, svid: FetchedSvid): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, {
      shell: true,
      stdio: ['ignore', 2, 2],
      env: { ...process.env, TRELLIS_SVID_DIR: svid.dir, TRELLIS_SVID_SERIAL: svid.serialNumber, TRELLIS_SPIFFE_ID: svid.spiffeId, TRELLIS_SVID_NOT_AFTER: svid.notAfter },
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => (code === 0 ? done() : fail(new Error(`--on-rotate command exited with ${signal ?? `code ${code}`}`))));
  });
}

export function addSvidCommands(program: Command): void {
  const svid = program.command('svid').description('the workload\'s X.509-SVID: key made here, SVID fetched into files and kept fresh');

  svid
    .command('fetch')
    .description('make a key, submit its CSR and write svid.pem, svid-key.pem (0600) and bundle.pem; --watch keeps them fresh')
    .requiredOption('--spiffe-id <id>', 'the workload\'s registered SPIFFE ID')
    .requiredOption('--out <dir>', 'the SVID directory to write')
    .option('--watch', 'stay running and renew before expiry (stops cleanly on SIGTERM/SIGINT)')
    .option('--on-rotate <command>', 'shell command run after every write, with TRELLIS_SVID_DIR and TRELLIS_SVID_SERIAL set')
    .option('--rotate-at <fraction>', 'renew at this fraction of the lifetime, jittered ±10%', parseFraction, 0.5)
    .option('--timeout <seconds>', 'give up waiting for issuance after this long', parseSeconds, 60)
    .action(async (o: FetchOptions, command: Command) => {
      const options = globalOptions(command);
      const out = output(options);
      const api = apiFor(command);
      const dir = resolve(o.out);
      const timeoutMs = o.timeout * 1000;

      if (o.watch !== true) {
        const fetched = await fetchSvidWithRetry({
          api,
          spiffeId: o.spiffeId,
          dir,
          timeoutMs,
          onRetry: (error, delayMs) => out.info(`trellis: ${errorText(error)}; retrying in ${delayMs} ms`),
        });
        if (o.onRotate !== undefined) await runHook(o.onRotate, fetched);
        out.result(fetched, () => describe(fetched));
        return;
      }

      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      const report = (event: AgentEvent): void => {
        switch (event.type) {
          case 'rotated':
            if (options.json) process.stdout.write(`${JSON.stringify({ event: 'rotated', rotation: event.rotation, nextRotationAt: event.nextRotationAt, ...event.svid })}\n`);
            else process.stderr.write(`${describe(event.svid)}\n  rotation ${event.rotation}; next rotation at ${event.nextRotationAt}\n`);
            break;
          case 'retrying':
            if (options.json) process.stdout.write(`${JSON.stringify({ event: 'retrying', attempt: event.attempt, delayMs: event.delayMs, error: errorText(event.error) })}\n`);
            else process.stderr.write(`trellis: renewal failed (${errorText(event.error)}); the current files stay; retry ${event.attempt} in ${event.delayMs} ms\n`);
            break;
          case 'hook-failed':
            process.stderr.write(`trellis: ${errorText(event.error)}\n`);
            break;
        }
      };
      try {
        await runSvidAgent({
          api,
          spiffeId: o.spiffeId,
          dir,
          timeoutMs,
          rotateAt: o.rotateAt,
          signal: controller.signal,
          onEvent: report,
          ...(o.onRotate === undefined ? {} : { onRotate: (fetched: FetchedSvid) => runHook(o.onRotate as string, fetched) }),
        });
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
      }
      out.info('trellis: stopped; the SVID files are complete');
    });
}
