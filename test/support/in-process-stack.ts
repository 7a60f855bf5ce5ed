/**
 * The local stand-ins in the test process, with the functions of serverless.yml run in-process:
 * the environment serverless.yml gives them is set before their modules are imported, and the
 * local EventBridge delivers events to them by rule, as the full stack does through
 * serverless offline. Fast enough to start one per test file.
 */
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { startDynalite, type LocalDynamo } from '../../local/dynamodb';
import { startLocalBus, type LocalBus } from '../../local/eventbridge/bus';
import { busNames, functionEnvironment, functionKeys, loadServerlessConfig, queueDefinitions, ruleDefinitions, sqsMappings, tableDefinitions, type ServerlessConfig } from '../../local/serverless-config';
import { startLocalSqs, type LocalSqs } from '../../local/sqs/local-sqs';
import { resetConfigCache } from '../../shared/config';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { LOCAL_FUNCTIONS_ACCESS_KEY_ID, dataPlaneIdentity, startStandIns, type StandIns } from '../../local/stand-ins';
import { cloudTrailToBus } from '../../local/lattice/cloudtrail';
import { crlEventsToBus } from '../../local/acm-pca/crl-events';
import { startDataPlane, type DataPlane, type StartDataPlaneOptions } from '../../local/lattice/data-plane';
import { latticeTargetFunctions } from '../../local/lattice/data-plane-targets';

export const ROOT = join(import.meta.dirname, '..', '..');
export const ADMIN_ARN = 'arn:aws:iam::111122223333:user/trellis-local-admin';

type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface InProcessStack {
  config: ServerlessConfig;
  dynamo: LocalDynamo;
  bus: LocalBus;
  /** The local SQS (SVID request queue, DLQs) with serverless.yml's event source mappings. */
  sqs: LocalSqs;
  standIns: StandIns;
  /** Invocations the bus made, by function key. */
  invocations: { functionKey: string; event: Record<string, unknown> }[];
  /** Runs a function of serverless.yml in-process. */
  invoke(functionKey: string, event: unknown): Promise<unknown>;
  /** The local Lattice data plane, when started with the `dataPlane` option. */
  dataPlane: DataPlane | undefined;
  stop(): Promise<void>;
}

export function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:111122223333:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 10_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export interface InProcessOptions {
  /** Extra environment (e.g. endpoints of other stand-ins) set before handlers load. */
  env?: Record<string, string>;
  /** Bus retry settings. */
  maxAttempts?: number;
  /** Every queue's visibility timeout (default 10 s: longer than an issuer invocation, shorter than the template's 6 minutes). */
  visibilityTimeoutMs?: number;
  /** Replace functions of serverless.yml by these handlers (the fault suite wraps the issuer). */
  handlers?: Record<string, (event: unknown, context: Context) => Promise<unknown>>;
  /** GetCertificate polls answered RequestInProgressException by the local ACM PCA (default 1). */
  inProgressPolls?: number;
  /**
   * Start the local Lattice data plane; the targets of serverless.yml's Lambda target groups run
   * in-process (through `invoke`). An object sets its clock, log and other options.
   */
  dataPlane?: boolean | Partial<Omit<StartDataPlaneOptions, 'store' | 'credentials' | 'invoke' | 'services'>>;
  /**
   * Deliver the local Lattice control plane's CloudTrail events to the default bus, as `npm start`
   * does, so the drift rule reacts to policy changes made through the API. Off by default: tests
   * that set policies by hand with the SDK stand for a Lattice no Trellis repairs.
   */
  cloudTrail?: boolean;
  /**
   * Deliver the local CA's CRL generation events to the default bus, as `npm start` does, so the
   * CRL import rule imports each new CRL into the local Roles Anywhere. Off by default.
   */
  crlEvents?: boolean;
}

export async function startInProcessStack(options: InProcessOptions = {}): Promise<InProcessStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-test-'));
  const standIns = await startStandIns({ stateDir, inProgressPolls: options.inProgressPolls });
  // serverless.yml's local parameters read the stand-ins' identities (e.g. the local CA ARN).
  Object.assign(process.env, standIns.env);
  const config = loadServerlessConfig(join(ROOT, 'serverless.yml'), 'local');
  const dynamo = await startDynalite({ tables: tableDefinitions(config), region: config.region });
  const handlers = new Map<string, AnyHandler>();
  const functionsRaw = config.raw.functions as Record<string, { handler: string }>;
  const keyByName = new Map(functionKeys(config).map((k) => [`${config.service}-${config.stage}-${k}`, k]));

  for (const [key, handler] of Object.entries(options.handlers ?? {})) handlers.set(key, handler);
  const loadHandler = async (key: string): Promise<AnyHandler> => {
    const cached = handlers.get(key);
    if (cached) return cached;
    const spec = functionsRaw[key]?.handler;
    if (!spec) throw new Error(`no function ${key} in serverless.yml`);
    const dot = spec.lastIndexOf('.');
    const mod = (await import(join(ROOT, spec.slice(0, dot)))) as Record<string, AnyHandler>;
    const handler = mod[spec.slice(dot + 1)];
    if (!handler) throw new Error(`${spec} exports no handler`);
    handlers.set(key, handler);
    return handler;
  };

  const invocations: InProcessStack['invocations'] = [];
  const invoke = async (key: string, event: unknown): Promise<unknown> => {
    const handler = await loadHandler(key);
    return handler(event, lambdaContext(`${config.service}-${config.stage}-${key}`));
  };

  const sqs = await startLocalSqs({
    region: config.region,
    accountId: '111122223333',
    queues: queueDefinitions(config),
    mappings: sqsMappings(config),
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? 10_000,
    pollIntervalMs: 5,
    invoke: async (functionName, event) => {
      const key = keyByName.get(functionName);
      if (!key) throw new Error(`no function named ${functionName}`);
      invocations.push({ functionKey: key, event: event as unknown as Record<string, unknown> });
      return invoke(key, event);
    },
  });

  const bus = await startLocalBus({
    sendToQueue: (queue, body, attributes) => void sqs.send(queue, body, attributes),
    region: config.region,
    accountId: '111122223333',
    buses: busNames(config),
    rules: ruleDefinitions(config),
    maxAttempts: options.maxAttempts ?? 2,
    retryBaseMs: 5,
    invoke: async (functionName, event) => {
      const key = keyByName.get(functionName);
      if (!key) throw new Error(`no function named ${functionName}`);
      invocations.push({ functionKey: key, event: event as unknown as Record<string, unknown> });
      await invoke(key, event);
    },
  });

  const env: Record<string, string> = {
    AWS_REGION: config.region,
    // The local stack's functions' key: the Lattice control plane tells their calls from a user's SDK.
    AWS_ACCESS_KEY_ID: LOCAL_FUNCTIONS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    ...standIns.env,
    ...Object.assign({}, ...functionKeys(config).map((k) => functionEnvironment(config, k))),
    POWERTOOLS_LOG_LEVEL: process.env.TRELLIS_TEST_LOG_LEVEL ?? 'ERROR',
    ...(options.env ?? {}),
  };
  delete env.POWERTOOLS_SERVICE_NAME;
  Object.assign(process.env, env);
  resetConfigCache();

  const cloudTrail = options.cloudTrail === true ? cloudTrailToBus(bus.endpoint, config.region) : undefined;
  if (cloudTrail) standIns.lattice.setCloudTrailSink(cloudTrail.sink);
  const crlEvents = options.crlEvents === true ? crlEventsToBus(bus.endpoint, config.region) : undefined;
  if (crlEvents) standIns.acmPca.setCrlEventSink(crlEvents.sink);

  const dataPlaneOptions = options.dataPlane === true ? {} : options.dataPlane === false ? undefined : options.dataPlane;
  const dataPlane =
    dataPlaneOptions === undefined
      ? undefined
      : await startDataPlane({
          ...dataPlaneIdentity(standIns),
          stateDir,
          ...dataPlaneOptions,
          services: latticeTargetFunctions(config),
          invoke: (functionKey, event) => invoke(functionKey, event),
        });

  // The bus is idle only when the queues it feeds are too (an SvidRequested goes on through the SVID
  // request queue): tests that wait for the bus wait for both.
  const settle = async (timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    do {
      await bus.waitForIdle(Math.max(1, deadline - Date.now()));
      await sqs.waitForIdle(Math.max(1, deadline - Date.now()));
      await new Promise((r) => setTimeout(r, 5));
    } while (!(await bus.waitForIdle(1).then(() => true, () => false)) || !(await sqs.waitForIdle(1).then(() => true, () => false)));
  };

  return {
    config,
    dynamo,
    bus: { ...bus, waitForIdle: settle },
    sqs,
    standIns,
    invocations,
    invoke,
    dataPlane,
    stop: async () => {
      await dataPlane?.stop();
      standIns.lattice.setCloudTrailSink(undefined);
      cloudTrail?.destroy();
      standIns.acmPca.setCrlEventSink(undefined);
      crlEvents?.destroy();
      await bus.stop();
      await sqs.stop();
      await standIns.stop();
      await dynamo.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
