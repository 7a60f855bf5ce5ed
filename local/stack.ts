/**
 * The embedded local stack: dynalite, the local EventBridge and the other AWS stand-ins run in
 * this process; `serverless offline` runs the functions and the HTTP API in a child process
 * group (so stopping kills every process it started). Handlers reach the stand-ins through the
 * SDK's standard AWS_ENDPOINT_URL_<SERVICE> variables: the same code as in AWS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { startDynalite, type LocalDynamo } from './dynamodb';
import { startLocalBus, type LocalBus } from './eventbridge/bus';
import { busNames, functionKeys, functionName, loadServerlessConfig, queueDefinitions, ruleDefinitions, sqsMappings, tableDefinitions } from './serverless-config';
import { startLocalSqs } from './sqs/local-sqs';
import { metricsLogFile } from './metrics-log';
import { LOCAL_FUNCTIONS_ACCESS_KEY_ID, LOCAL_IDENTITY, dataPlaneIdentity, startStandIns, type StandIns } from './stand-ins';
import { cloudTrailToBus } from './lattice/cloudtrail';
import { crlEventsToBus } from './acm-pca/crl-events';
import { startDataPlane } from './lattice/data-plane';
import { latticeTargetFunctions } from './lattice/data-plane-targets';
import type { Ports } from './ports';
import { forEachLine, onFunctionsOutputLine, type FunctionsOutputSinks } from './functions-output';

export const LOCAL_STAGE = 'local';

export interface StackOptions {
  root: string;
  ports: Ports;
  host?: string;
  /** Keep DynamoDB data, and the events and queue messages not yet delivered, in this folder across restarts (in memory otherwise). */
  persistDir?: string;
  /** Where local state (CA, endpoints.json, logs) lives; default <root>/.trellis. */
  stateDir?: string;
  /**
   * Echo the chatter (serverless offline's and the functions' output, the local EventBridge's and the
   * data plane's lines) to this stream as well as to their files in .trellis/logs/ (`npm start --verbose`).
   */
  echoFunctionLogs?: NodeJS.WritableStream;
  /** Receives the stop function as soon as starting begins, so a signal during boot can stop what already runs. */
  onStarting?: (stop: () => Promise<void>) => void;
  /** Called when serverless offline exits while the stack runs (not when the stack stops it): nothing would answer the API any more. */
  onFunctionsExit?: (why: string) => void;
  /** One progress line per component as it becomes ready (with the seconds it took). */
  log?: (line: string) => void;
}

export interface Endpoints {
  api: string;
  eventBridge: string;
  dynamodb: string;
  lambda: string;
  region: string;
  stage: string;
  [extra: string]: unknown;
}

export interface Stack {
  endpoints: Endpoints;
  bus: LocalBus;
  standIns: StandIns;
  functionsLog: string;
  stop(): Promise<void>;
}

// The functions' key: the local Lattice control plane shows their calls as the stage's policy writer role in its CloudTrail events.
const CREDENTIALS = { AWS_ACCESS_KEY_ID: LOCAL_FUNCTIONS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: 'local' };

async function waitFor(url: string, timeoutMs: number, child: ChildProcess, buildError: () => string | undefined, functionsLog: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`serverless offline exited (${child.exitCode ?? child.signalCode}); see ${functionsLog}`);
    // In watch mode serverless offline stays up after a failed first build, answering nothing.
    const failed = buildError();
    if (failed !== undefined) throw new Error(`the functions did not build: ${failed}; the whole error is in ${functionsLog}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status < 500) return;
      lastError = `HTTP ${res.status}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${lastError})`);
}

/** A child killed by a signal has no exit code, only a signal code. */
const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Signals the child's whole process group (its own children too), even when the leader already exited. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const host = options.host ?? '127.0.0.1';
  const root = resolve(options.root);
  const stateDir = options.stateDir ?? join(root, '.trellis');
  const progress = options.log ?? (() => {});
  let since = performance.now();
  // Each component's line carries the seconds since the previous one was ready.
  const log = (line: string): void => {
    const now = performance.now();
    progress(`${line} (${((now - since) / 1000).toFixed(1)} s)`);
    since = now;
  };
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const { ports } = options;
  const stoppers: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  // Idempotent: a second call (Ctrl-C during a stop) waits for the first.
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const stop of [...stoppers].reverse()) await stop().catch(() => {});
    })());
  options.onStarting?.(stopAll);

  try {
    // First: serverless.yml's local parameters name the local CA, whose ARN is known once it runs.
    const standIns = await startStandIns({ stateDir, host, ports: { acmPca: ports.acmPca, lattice: ports.lattice, rolesAnywhere: ports.rolesAnywhere, s3: ports.s3 } });
    stoppers.push(() => standIns.stop());
    Object.assign(process.env, standIns.env);
    log('local ACM PCA, VPC Lattice control plane and Roles Anywhere ready');
    const config = loadServerlessConfig(join(root, 'serverless.yml'), LOCAL_STAGE);
    const region = config.region;

    const dynamo: LocalDynamo = await startDynalite({ port: ports.dynamodb, host, path: options.persistDir, tables: tableDefinitions(config), region });
    stoppers.push(() => dynamo.stop());
    log(`dynalite ready, ${options.persistDir ? `persisted in ${options.persistDir}` : 'in memory'}`);

    const lambdaEndpoint = `http://${host}:${ports.lambda}`;
    const lambda = new LambdaClient({ endpoint: lambdaEndpoint, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    stoppers.push(async () => lambda.destroy());
    // Deliveries (events replayed from a --persist journal included) start once serverless offline answers.
    let functionsReady: () => void = () => {};
    const targetsReady = new Promise<void>((r) => (functionsReady = r));
    // SQS (the SVID request queue and the DLQs) with Lambda's event source mappings of serverless.yml.
    const sqs = await startLocalSqs({
      targetsReady,
      port: ports.sqs,
      host,
      region,
      accountId: '111122223333',
      queues: queueDefinitions(config),
      mappings: sqsMappings(config),
      ...(options.persistDir ? { journalFile: join(options.persistDir, 'sqs.jsonl') } : {}),
      invoke: async (name, event) => {
        const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
        const payload = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        if (out.FunctionError) throw new Error(`${name} failed: ${out.FunctionError} ${payload.slice(0, 500)}`);
        return payload === '' ? undefined : (JSON.parse(payload) as unknown);
      },
    });
    stoppers.push(() => sqs.stop());
    log('local SQS ready');
    const eventBridgeLog = createWriteStream(join(stateDir, 'logs', 'eventbridge.log'), { flags: 'w' });
    stoppers.push(() => new Promise<void>((r) => eventBridgeLog.end(() => r())));
    const bus = await startLocalBus({
      port: ports.eventBridge,
      host,
      region,
      accountId: '111122223333',
      buses: busNames(config),
      rules: ruleDefinitions(config),
      invoke: async (functionName, event) => {
        const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }));
        if (out.FunctionError) {
          const payload = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
          throw new Error(`${functionName} failed: ${out.FunctionError} ${payload.slice(0, 500)}`);
        }
      },
      sendToQueue: (queue, body, attributes) => void sqs.send(queue, body, attributes),
      targetsReady,
      ...(options.persistDir ? { journalFile: join(options.persistDir, 'eventbridge.jsonl') } : {}),
      log: (line) => {
        eventBridgeLog.write(`${line}\n`);
        options.echoFunctionLogs?.write(`${line}\n`);
      },
    });
    stoppers.push(() => bus.stop());
    log('local EventBridge ready');
    // CloudTrail: the Lattice control plane's successful writes reach the default bus (the drift rule).
    const cloudTrail = cloudTrailToBus(bus.endpoint, region);
    standIns.lattice.setCloudTrailSink(cloudTrail.sink);
    stoppers.push(async () => {
      standIns.lattice.setCloudTrailSink(undefined);
      cloudTrail.destroy();
    });
    // The local CA's CRL generation events reach the default bus (the CRL import rule), as ACM Private CA's do.
    const crlEvents = crlEventsToBus(bus.endpoint, region);
    standIns.acmPca.setCrlEventSink(crlEvents.sink);
    stoppers.push(async () => {
      standIns.acmPca.setCrlEventSink(undefined);
      crlEvents.destroy();
    });

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...standIns.env,
      ...CREDENTIALS,
      AWS_REGION: region,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      SLS_TELEMETRY_DISABLED: '1',
      TRELLIS_ESBUILD_DIR: join('.esbuild', `stack-${ports.api}`),
      SLS_NOTIFICATIONS_MODE: 'off',
    };
    // A serverless offline killed mid-build (SIGKILL, a crash) leaves its esbuild work folder in a
    // state the next start hangs on (observed with --persist restarts): each start builds afresh.
    rmSync(join(root, '.esbuild', `stack-${ports.api}`), { recursive: true, force: true });
    const functionsLog = join(stateDir, 'logs', 'functions.log');
    const logStream = createWriteStream(functionsLog, { flags: 'w' });
    const child = spawn(
      process.execPath,
      [
        // A fix serverless offline's warm function instances need (local/serverless-offline/fixes.mjs).
        '--import',
        pathToFileURL(join(root, 'local', 'serverless-offline', 'register.mjs')).href,
        join(root, 'node_modules', 'osls', 'bin', 'serverless.js'),
        'offline',
        'start',
        '--stage',
        LOCAL_STAGE,
        '--host',
        host,
        '--httpPort',
        String(ports.api),
        '--lambdaPort',
        String(ports.lambda),
        '--websocketPort',
        String(ports.websocket),
      ],
      { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The functions' EMF metric lines also go to metrics.log (as CloudWatch would make them metrics).
    const sinks: FunctionsOutputSinks = { file: logStream, echo: options.echoFunctionLogs, metrics: metricsLogFile(join(stateDir, 'logs', 'metrics.log')) };
    let buildError: string | undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) {
        forEachLine(stream, (line) => {
          if (buildError === undefined && line.startsWith('✘ [ERROR]')) buildError = line.slice('✘ [ERROR]'.length).trim();
          onFunctionsOutputLine(line, sinks);
        });
      }
    }
    // Last resort when this process dies without stopping (an uncaught error): no orphan keeps the ports.
    const killOnExit = (): void => killGroup(child, 'SIGKILL');
    process.once('exit', killOnExit);
    let stoppingFunctions = false;
    child.once('exit', (code, signal) => {
      if (!stoppingFunctions) options.onFunctionsExit?.(`serverless offline exited (${code ?? signal}); see ${join(stateDir, 'logs', 'functions.log')}`);
    });
    stoppers.push(async () => {
      stoppingFunctions = true;
      process.off('exit', killOnExit);
      killGroup(child, 'SIGTERM');
      const exited = new Promise<void>((r) => (hasExited(child) ? r() : child.once('exit', () => r())));
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 2500);
      await exited;
      clearTimeout(timer);
      await new Promise<void>((r) => logStream.end(() => r()));
    });

    const api = `http://${host}:${ports.api}/${LOCAL_STAGE}`;
    progress(`building and loading ${functionKeys(config).length} functions (serverless offline; its output in ${functionsLog})`);
    // The first esbuild of every function takes up to about 150 s on a busy 2-core machine.
    await waitFor(`${api}/workloads?limit=1`, 150_000, child, () => buildError, functionsLog);
    functionsReady();
    log('functions and API ready (serverless offline)');

    // The Lattice data plane invokes its targets through serverless offline's Lambda endpoint, so it
    // starts once that answers. Its decisions go to .trellis/logs/data-plane.log (and the echo stream).
    const dataPlaneLog = createWriteStream(join(stateDir, 'logs', 'data-plane.log'), { flags: 'w' });
    stoppers.push(() => new Promise<void>((r) => dataPlaneLog.end(() => r())));
    const dataPlane = await startDataPlane({
      ...dataPlaneIdentity(standIns),
      stateDir,
      host,
      port: ports.dataPlane,
      services: Object.fromEntries(Object.entries(latticeTargetFunctions(config)).map(([service, key]) => [service, functionName(config, key)])),
      invoke: async (name, event) => {
        const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
        const payload = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        if (out.FunctionError) throw new Error(`${name} failed: ${out.FunctionError} ${payload.slice(0, 500)}`);
        return payload === '' ? undefined : (JSON.parse(payload) as unknown);
      },
      log: (entry) => {
        const line = `${JSON.stringify({ time: new Date().toISOString(), component: 'lattice-data-plane', ...entry })}\n`;
        dataPlaneLog.write(line);
        options.echoFunctionLogs?.write(line);
      },
    });
    stoppers.push(() => dataPlane.stop());
    log('VPC Lattice data plane ready');

    const endpoints: Endpoints = {
      api,
      eventBridge: bus.endpoint,
      sqs: sqs.endpoint,
      dynamodb: dynamo.endpoint,
      lambda: lambdaEndpoint,
      ...standIns.endpoints,
      services: dataPlane.services,
      servicesCaFile: dataPlane.caFile,
      workloadIdentity: LOCAL_IDENTITY,
      region,
      stage: LOCAL_STAGE,
    };
    writeFileSync(join(stateDir, 'endpoints.json'), `${JSON.stringify(endpoints, null, 2)}\n`);
    return { endpoints, bus, standIns, functionsLog, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
