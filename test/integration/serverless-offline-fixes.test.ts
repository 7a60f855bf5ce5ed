/**
 * local/serverless-offline/fixes.mjs: serverless offline's worker-thread runner, loaded through the
 * hook as the local stack loads it, answers again after its worker was terminated (what a Lambda
 * timeout does to a warm instance); without the hook the same runner never answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/in-process-stack';

const script = `
const { default: Runner } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'node_modules/serverless-offline/src/lambda/handler-runner/worker-thread-runner/WorkerThreadRunner.js')).href)});
const dir = ${JSON.stringify(join(ROOT, 'test/fixtures/offline-handler'))};
const runner = new Runner({ codeDir: dir, functionKey: 'fixture', handler: 'handler.handler', servicePath: dir, timeout: 5000 }, {});
const answers = [await runner.run({ n: 1 }, {})];
await runner.cleanup(); // what serverless offline does to the instance on a timeout
answers.push(await Promise.race([runner.run({ n: 2 }, {}), new Promise((r) => setTimeout(() => r('no answer'), 3000))]));
await runner.cleanup();
process.stdout.write(JSON.stringify(answers));
process.exit(0);
`;

const file = join(mkdtempSync(join(tmpdir(), 'trellis-offline-fixes-')), 'check.mjs');
writeFileSync(file, script);
const run = (args: string[]): unknown => JSON.parse(execFileSync(process.execPath, [...args, file], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 }));

describe('serverless offline fixes (module hook)', () => {
  it('a warm instance whose worker was terminated starts a new worker on its next invocation', () => {
    expect(run(['--import', pathToFileURL(join(ROOT, 'local/serverless-offline/register.mjs')).href])).toEqual([{ echo: 1 }, { echo: 2 }]);
  });

  it('without the hook the instance stays dead (the bug the hook fixes is still there to fix)', () => {
    expect(run([])).toEqual([{ echo: 1 }, 'no answer']);
  });
});
