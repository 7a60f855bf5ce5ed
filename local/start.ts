/**
 * `npm start`: boots the whole control plane on this machine and keeps serving until Ctrl-C.
 *   --no-demo            do not play the reference scenario (it runs by default, then keeps serving)
 *   --persist DIR        keep DynamoDB data in DIR across restarts (in memory by default)
 *   --port-base N        move every port together (API on N, see local/ports.ts)
 *   --quiet              no chatter on the terminal (the default; kept for scripts that pass it)
 *   --state-dir DIR      where the local CA, logs and endpoints.json live (default .trellis)
 *   --verbose            also echo serverless offline's and the functions' output, the local
 *                        EventBridge's and the data plane's lines (always in .trellis/logs/)
 * The terminal shows one progress line per component with its time, the endpoint table and the demo's table.
 * Environment: TRELLIS_PORT_BASE as --port-base.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS, portsFromBase } from './ports';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runReferenceScenario, renderOutcomes, type DemoEndpoints } from './demo';
import { startStack } from './stack';

const { values } = parseArgs({
  options: {
    demo: { type: 'boolean', default: true },
    persist: { type: 'string' },
    'port-base': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    'state-dir': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
  allowNegative: true,
  strict: true,
});

const base = values['port-base'] ?? process.env.TRELLIS_PORT_BASE;
if (base !== undefined && !/^\d+$/.test(base)) {
  console.error(`--port-base must be a port number, got "${base}"`);
  process.exit(2);
}
const ports = base === undefined ? DEFAULT_PORTS : portsFromBase(Number(base));
const started = Date.now();

// Signals are handled from the first moment: Ctrl-C during boot stops what already runs.
let stopStack: () => Promise<void> = async () => {};
let stopping = false;
const stop = async (reason: string, code = 0): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log(`[trellis] ${reason}: stopping`);
  const force = setTimeout(() => process.exit(1), 4500);
  await stopStack();
  clearTimeout(force);
  process.exit(code);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGHUP', () => void stop('SIGHUP'));
// If whoever started us (npm, a test) goes away without a signal reaching us, stop too:
// an orphaned stack would keep its ports.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop('parent exited');
}, 500).unref();

const stack = await startStack({
  root: process.cwd(),
  ports,
  persistDir: values.persist,
  stateDir: values['state-dir'],
  echoFunctionLogs: values.verbose && !values.quiet ? process.stderr : undefined,
  log: (line) => console.log(`[trellis] ${line}`),
  onStarting: (stopFn) => {
    stopStack = stopFn;
  },
  // Without the functions nothing answers: stop the rest rather than keep its ports half-alive.
  onFunctionsExit: (why) => void stop(why, 1),
}).catch(async (error: unknown) => {
  console.error(`[trellis] could not start: ${error instanceof Error ? error.message : String(error)}`);
  await stopStack();
  process.exit(1);
});
if (stopping) await new Promise(() => {}); // a signal arrived during boot: stop() exits

console.log(`[trellis] ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Endpoints (also in ${join(values['state-dir'] ?? '.trellis', 'endpoints.json')}):`);
for (const [name, value] of Object.entries(stack.endpoints)) console.log(`  ${name.padEnd(14)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
if (!values.verbose) console.log(`[trellis] functions', EventBridge's and data plane's logs: ${join(values['state-dir'] ?? '.trellis', 'logs')}/ (--verbose shows them here too)`);
const demo = values.demo; // --no-demo (allowNegative) sets it false
if (!demo) {
  console.log('[trellis] demo skipped (--no-demo); serving. Ctrl-C stops.');
} else {
  console.log('[trellis] playing the reference scenario (README.md, Quick start); --no-demo skips it');
  const endpoints = stack.endpoints as unknown as Omit<DemoEndpoints, 'dataPlaneCaPem'> & { servicesCaFile: string };
  try {
    const { outcomes } = await runReferenceScenario({ ...endpoints, dataPlaneCaPem: readFileSync(endpoints.servicesCaFile, 'utf8') }, (line) => console.log(`[demo] ${line}`));
    console.log(`\n${renderOutcomes(outcomes)}\n`);
    const wrong = outcomes.filter((o) => o.actual !== o.expected);
    for (const o of wrong) console.error(`[demo] ${o.caller} → ${o.service}: expected ${o.expected}, got ${o.actual} (${o.status}) ${o.detail}`);
    if (wrong.length > 0) {
      console.error('[demo] the outcomes differ from the reference table');
      await stop('demo failed', 1);
    }
    console.log('[demo] all four outcomes match the reference table. Serving; Ctrl-C stops.');
  } catch (error) {
    console.error(`[demo] failed: ${error instanceof Error ? error.message : String(error)}`);
    await stop('demo failed', 1);
  }
}
