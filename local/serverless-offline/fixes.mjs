/**
 * A module hook for serverless offline 13.10.1 (pinned in package.json): one fix, applied to its
 * source as it loads, that warm functions need.
 *
 * With reloadHandler off, serverless offline keeps each function instance (a worker thread with the
 * handler loaded) in a pool and reuses it. When an invocation times out it terminates that worker
 * but leaves the instance in the pool as idle; every later invocation the pool hands it is posted to
 * the dead worker and never answers (a 504 after the function's timeout, for good). Lambda replaces
 * a timed-out execution environment instead. Patched: a runner whose worker was terminated starts a
 * new one (a cold start) on its next invocation.
 *
 * The hook checks the exact text it replaces and fails loudly when it is not there (another
 * serverless-offline version): nothing is patched by guess.
 */
const TARGET = '/serverless-offline/src/lambda/handler-runner/worker-thread-runner/WorkerThreadRunner.js';

const REPLACEMENTS = [
  [
    `  constructor(funOptions, env) {
    const { codeDir, functionKey, handler, servicePath, timeout } = funOptions

    this.#workerThread = new Worker(`,
    `  #start = null

  #terminated = false

  constructor(funOptions, env) {
    const { codeDir, functionKey, handler, servicePath, timeout } = funOptions

    this.#start = () => new Worker(`,
  ],
  [
    `          timeout,
        },
      },
    )
  }`,
    `          timeout,
        },
      },
    )
    this.#workerThread = this.#start()
  }`,
  ],
  [
    `    return this.#workerThread.terminate()`,
    `    this.#terminated = true

    return this.#workerThread.terminate()`,
  ],
  [
    `  run(event, context) {
    return new Promise((res, rej) => {`,
    `  run(event, context) {
    if (this.#terminated) {
      this.#terminated = false
      this.#workerThread = this.#start()
    }

    return new Promise((res, rej) => {`,
  ],
];

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.endsWith(TARGET)) return loaded;
  let source = String(loaded.source);
  for (const [before, after] of REPLACEMENTS) {
    if (!source.includes(before)) throw new Error(`local/serverless-offline/fixes.mjs: ${TARGET} is not the 13.10.1 source it patches (missing: ${before.split('\n')[0].trim()})`);
    source = source.replace(before, after);
  }
  return { ...loaded, source };
}
