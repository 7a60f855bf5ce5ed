/**
 * The local stack started as a user starts it (`node --import tsx local/start.ts …`, what `npm start`
 * runs), in a child process, for the end-to-end tests: its output collected, and a wait for a line
 * that says it got where the test needs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './in-process-stack';

export interface StackProcess {
  child: ChildProcess;
  /** Everything the stack printed so far (stdout and stderr). */
  output(): string;
}

export function spawnStack(args: string[]): StackProcess {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

/**
 * Resolves once the stack has printed `marker`; rejects when it exits first or `timeoutMs` passes
 * (a bound against hangs, not a speed claim), with the end of its output.
 */
export function waitForOutput(stack: StackProcess, marker: string, timeoutMs: number, failure = (output: string) => `stack did not start:\n${output.slice(-3000)}`): Promise<void> {
  const started = Date.now();
  return new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (stack.output().includes(marker)) {
        clearInterval(timer);
        resolve();
      } else if (stack.child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(failure(stack.output())));
      }
    }, 100);
  });
}
