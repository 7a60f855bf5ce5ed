/**
 * A small local EventBridge: PutEvents over the real wire protocol (AWS JSON 1.1, `POST /`,
 * `X-Amz-Target: AWSEvents.PutEvents`), rules given as data, delivery to an injected `invoke` with retries and
 * an in-memory dead-letter list.
 *
 * Why Trellis has its own: serverless-offline-aws-eventbridge matches the bus by
 * substring (an event for `trellis` reached rules of `trellis-dev`), skips the bus check for an empty name,
 * gives events non-unique ids and empty `resources`, knows no content-filter operators, and has no retries or
 * dead letters — all things Trellis's flows must be able to prove locally.
 *
 * Delivery follows EventBridge: PutEvents answers first, then each matching target is invoked asynchronously;
 * a failed invocation is retried with exponential backoff and jitter, and after `maxAttempts` it becomes a dead
 * letter (as with a rule target's DLQ). Only the operations below are served; any other `AWSEvents.*` target
 * gets UnknownOperationException.
 *
 * A target is a function (`invoke`) or an SQS queue (`sendToQueue`, which the local SQS serves), and
 * a target may name a dead-letter queue: a delivery that fails all its attempts is then sent there
 * as EventBridge does (the event as the body, RULE_ARN, TARGET_ARN, ERROR_MESSAGE... as message
 * attributes), besides being kept in the dead-letter list.
 *
 * With `journalFile` (npm start --persist), the bus keeps what it accepted: each accepted event is
 * in the journal before PutEvents answers, each finished delivery is marked, and on start the
 * deliveries that had not finished are started again (at least once, as EventBridge delivers).
 *
 * Faults (tests): `setFaults({ putEventsFailureRate })` makes that share of PutEvents entries fail
 * with InternalFailure, as EventBridge reports a failed entry.
 *
 * Debugging over HTTP (read-only JSON): GET /_local/events, /_local/deliveries, /_local/dead-letters.
 */
import { closeServer, listen, readBody } from '../http-server';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Journal } from '../journal';
import { compilePattern, type CompiledPattern } from './pattern';
import {
  acceptEntry,
  AwsJsonError,
  DEFAULT_BUS,
  parsePutEventsRequest,
  type EventBridgeEvent,
  type JsonValue,
  type PutEventsResultEntry,
} from './put-events';

export type { EventBridgeEvent, JsonValue } from './put-events';

export interface LocalTarget {
  id: string;
  /** A Lambda function target; exactly one of functionName and queueName. */
  functionName?: string;
  /** An SQS queue target (the event is the message body). */
  queueName?: string;
  /** The target's dead-letter queue (DeadLetterConfig), by queue name. */
  deadLetterQueue?: string;
  /** Constant JSON sent instead of the event (a target's `Input`). */
  input?: JsonValue;
}

export interface LocalRule {
  name: string;
  eventBusName: string;
  /** An EventBridge event pattern (object, or its JSON text). Validated when the bus starts. */
  pattern: object | string;
  targets: LocalTarget[];
}

/** What a target receives: the event, or the target's constant `input` when it has one. */
export type TargetPayload = EventBridgeEvent | JsonValue;

export interface LocalBusOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
  accountId?: string;
  /** Custom buses that exist; `default` always exists. */
  buses: string[];
  rules: LocalRule[];
  invoke: (functionName: string, payload: TargetPayload) => Promise<void>;
  /** Sends a message to a local SQS queue (queue targets and target dead-letter queues). */
  sendToQueue?: (queueName: string, body: string, attributes: Record<string, string>) => void;
  /** Keep accepted, undelivered events across crashes in this file (see local/journal.ts). */
  journalFile?: string;
  /** Deliveries wait for this (the functions' runtime may still be starting, e.g. after a restart). */
  targetsReady?: Promise<void>;
  /** Invocations per target before a dead letter (default 3). */
  maxAttempts?: number;
  /** First retry delay in ms; doubles each retry, with jitter (default 200). */
  retryBaseMs?: number;
  /** How many accepted events (and 10x as many delivery records) to keep for inspection (default 1000). */
  archiveSize?: number;
  /** JSON lines for accepted events and dead letters: true = on stderr, a function = each line to it (default off, to keep tests quiet). */
  log?: boolean | ((line: string) => void);
}

export interface LocalBusFaults {
  /** Share (0..1) of PutEvents entries answered with ErrorCode InternalFailure. */
  putEventsFailureRate?: number;
}

type JournalLine = { op: 'accept'; busName: string; event: EventBridgeEvent } | { op: 'done'; eventId: string; ruleName: string; targetId: string; status: DeliveryStatus; attempts: number; error?: string };

export type DeliveryStatus = 'delivered' | 'dead-letter' | 'pending';

export interface DeliveryRecord {
  eventId: string;
  ruleName: string;
  targetId: string;
  functionName?: string;
  queueName?: string;
  attempts: number;
  status: DeliveryStatus;
  /** Message of the last failed attempt. */
  error?: string;
  event: EventBridgeEvent;
}

export interface LocalBus {
  /** http://host:port — give it to EventBridgeClient as `endpoint`. */
  endpoint: string;
  /** Accepted events, oldest first, newest last. */
  events(): EventBridgeEvent[];
  deliveries(): DeliveryRecord[];
  deadLetters(): DeliveryRecord[];
  setFaults(faults: LocalBusFaults): void;
  /** PutEvents entries failed by an injected fault so far. */
  injectedFailures(): number;
  /** Resolves when no delivery is pending; rejects after timeoutMs (default 10 s). */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface CompiledRule {
  rule: LocalRule;
  pattern: CompiledPattern;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 5 * 1024 * 1024;
const MAX_TARGETS_PER_RULE = 5;

/** Checks the buses and rules (patterns included) and compiles them; throws an Error naming the first problem. */
export function compileRules(buses: string[], rules: LocalRule[]): Map<string, CompiledRule[]> {
  const byBus = new Map<string, CompiledRule[]>([[DEFAULT_BUS, []]]);
  for (const bus of buses) {
    if (typeof bus !== 'string' || bus === '') throw new Error('Local event bus: a bus name must be a non-empty string');
    if (bus !== DEFAULT_BUS && byBus.has(bus)) throw new Error(`Local event bus: bus ${bus} is listed twice`);
    byBus.set(bus, []);
  }
  for (const rule of rules) {
    const where = `Local event bus: rule ${rule.name} on bus ${rule.eventBusName}`;
    if (!rule.name) throw new Error('Local event bus: a rule needs a name');
    const onBus = byBus.get(rule.eventBusName);
    if (onBus === undefined) throw new Error(`${where}: the bus does not exist (buses: ${[...byBus.keys()].join(', ')})`);
    if (onBus.some((r) => r.rule.name === rule.name)) throw new Error(`${where}: a rule with this name already exists`);
    if (rule.targets.length > MAX_TARGETS_PER_RULE) {
      throw new Error(`${where}: ${rule.targets.length} targets; EventBridge allows ${MAX_TARGETS_PER_RULE} per rule`);
    }
    const ids = new Set<string>();
    for (const target of rule.targets) {
      if (!target.id || (target.functionName === undefined) === (target.queueName === undefined)) throw new Error(`${where}: every target needs an id and either a functionName or a queueName`);
      if (ids.has(target.id)) throw new Error(`${where}: target id ${target.id} is used twice`);
      ids.add(target.id);
    }
    let pattern: CompiledPattern;
    try {
      pattern = compilePattern(rule.pattern);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
    }
    onBus.push({ rule, pattern });
  }
  return byBus;
}

/** Delay before retry number `retry` (1-based): base * 2^(retry-1), "equal jitter" (half fixed, half random). */
export function backoffMs(retry: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = baseMs * 2 ** (retry - 1);
  return ceiling / 2 + random() * (ceiling / 2);
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function startLocalBus(options: LocalBusOptions): Promise<LocalBus> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const maxAttempts = options.maxAttempts ?? 3;
  const retryBaseMs = options.retryBaseMs ?? 200;
  const archiveSize = options.archiveSize ?? 1000;
  const log = options.log ?? false;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('Local event bus: maxAttempts must be an integer >= 1');
  const rulesByBus = compileRules(options.buses, options.rules);
  const busNames: ReadonlySet<string> = new Set(rulesByBus.keys());

  const archive: EventBridgeEvent[] = [];
  const records: DeliveryRecord[] = [];
  let faults: LocalBusFaults = {};
  let injectedFailures = 0;
  let journal: Journal<JournalLine> | undefined;
  const pending = new Set<Promise<void>>();
  const sleeping = new Map<NodeJS.Timeout, () => void>();
  let stopped = false;

  const writeLog = (level: 'INFO' | 'ERROR', message: string, fields: Record<string, unknown>): void => {
    if (!log) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, service: 'local-eventbridge', message, ...fields });
    if (typeof log === 'function') log(line);
    else process.stderr.write(`${line}\n`);
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        sleeping.delete(timer);
        resolve();
      }, ms);
      sleeping.set(timer, resolve);
    });

  const keep = <T>(list: T[], item: T, max: number): void => {
    list.push(item);
    if (list.length > max) list.splice(0, list.length - max);
  };

  const deliver = async (record: DeliveryRecord, target: LocalTarget): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve)); // after the PutEvents response, as EventBridge
    await options.targetsReady;
    const payload: TargetPayload = target.input !== undefined ? target.input : record.event;
    while (!stopped) {
      record.attempts += 1;
      try {
        if (target.queueName !== undefined) {
          if (options.sendToQueue === undefined) throw new Error(`no local SQS for the queue target ${target.queueName}`);
          options.sendToQueue(target.queueName, JSON.stringify(payload), {});
        } else {
          // Each attempt gets its own copy: a handler that mutates its event must not change the next attempt's.
          await options.invoke(target.functionName ?? '', structuredClone(payload));
        }
        record.status = 'delivered';
        delete record.error;
        finish(record);
        return;
      } catch (err) {
        record.error = errorMessage(err);
      }
      if (record.attempts >= maxAttempts) {
        record.status = 'dead-letter';
        if (target.deadLetterQueue !== undefined && options.sendToQueue !== undefined) {
          // As EventBridge sends to a target's DLQ: the event itself, and why, as message attributes.
          options.sendToQueue(target.deadLetterQueue, JSON.stringify(record.event), {
            RULE_ARN: `arn:aws:events:${region}:${accountId}:rule/${record.ruleName}`,
            TARGET_ARN: target.queueName !== undefined ? `arn:aws:sqs:${region}:${accountId}:${target.queueName}` : `arn:aws:lambda:${region}:${accountId}:function:${target.functionName ?? ''}`,
            ERROR_CODE: 'SDK_CLIENT_ERROR',
            ERROR_MESSAGE: (record.error ?? '').slice(0, 1000),
            EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
            RETRY_ATTEMPTS: String(record.attempts - 1),
          });
        }
        finish(record);
        writeLog('ERROR', 'delivery failed; event dead-lettered', {
          eventId: record.eventId,
          ruleName: record.ruleName,
          targetId: record.targetId,
          functionName: record.functionName,
          attempts: record.attempts,
          error: record.error,
          event: record.event,
        });
        return;
      }
      await sleep(backoffMs(record.attempts, retryBaseMs));
    }
  };

  const finish = (record: DeliveryRecord): void => {
    journal?.append({ op: 'done', eventId: record.eventId, ruleName: record.ruleName, targetId: record.targetId, status: record.status, attempts: record.attempts, ...(record.error ? { error: record.error } : {}) });
  };

  /** Starts the deliveries of an accepted event; `skip` holds deliveries a previous run finished (rule/target keys). */
  const route = (busName: string, event: EventBridgeEvent, skip: ReadonlySet<string> = new Set()): void => {
    for (const { rule, pattern } of rulesByBus.get(busName) ?? []) {
      if (!pattern.matches(event)) continue;
      for (const target of rule.targets) {
        if (skip.has(`${rule.name}\n${target.id}`)) continue;
        const record: DeliveryRecord = {
          eventId: event.id,
          ruleName: rule.name,
          targetId: target.id,
          ...(target.functionName !== undefined ? { functionName: target.functionName } : {}),
          ...(target.queueName !== undefined ? { queueName: target.queueName } : {}),
          attempts: 0,
          status: 'pending',
          event,
        };
        keep(records, record, archiveSize * 10);
        const delivery = deliver(record, target).finally(() => pending.delete(delivery));
        pending.add(delivery);
      }
    }
  };

  const putEvents = (body: unknown): { FailedEntryCount: number; Entries: PutEventsResultEntry[] } => {
    const entries = parsePutEventsRequest(body);
    const now = new Date();
    const results: PutEventsResultEntry[] = [];
    let failed = 0;
    for (const entry of entries) {
      const outcome = acceptEntry(entry, { id: randomUUID(), now, region, accountId, buses: busNames });
      if (outcome.ok && faults.putEventsFailureRate !== undefined && Math.random() < faults.putEventsFailureRate) {
        failed += 1;
        injectedFailures += 1;
        results.push({ ErrorCode: 'InternalFailure', ErrorMessage: 'Injected fault: the local event bus failed this entry.' });
        continue;
      }
      if (!outcome.ok) {
        failed += 1;
        results.push({ ErrorCode: outcome.errorCode, ErrorMessage: outcome.errorMessage });
        continue;
      }
      // Durable before acknowledged: a crash after PutEvents answers cannot lose the event.
      journal?.append({ op: 'accept', busName: outcome.busName, event: outcome.event });
      keep(archive, outcome.event, archiveSize);
      writeLog('INFO', 'event accepted', { bus: outcome.busName, event: outcome.event });
      route(outcome.busName, outcome.event);
      results.push({ EventId: outcome.event.id });
    }
    return { FailedEntryCount: failed, Entries: results };
  };

  const copyRecord = (r: DeliveryRecord): DeliveryRecord => ({ ...r, event: structuredClone(r.event) });
  const api = {
    events: (): EventBridgeEvent[] => archive.map((e) => structuredClone(e)),
    deliveries: (): DeliveryRecord[] => records.map(copyRecord),
    deadLetters: (): DeliveryRecord[] => records.filter((r) => r.status === 'dead-letter').map(copyRecord),
    setFaults: (next: LocalBusFaults): void => {
      if (next.putEventsFailureRate !== undefined && !(next.putEventsFailureRate >= 0 && next.putEventsFailureRate <= 1)) throw new RangeError('putEventsFailureRate must be between 0 and 1');
      faults = { ...next };
    },
    injectedFailures: (): number => injectedFailures,
  };

  if (options.journalFile !== undefined) {
    // Replay: every accepted event whose deliveries did not all finish is routed again (the
    // finished ones skipped); the journal is then rewritten with only those events.
    const accepted = new Map<string, { busName: string; event: EventBridgeEvent }>();
    const finished = new Map<string, Set<string>>();
    for (const line of Journal.read<JournalLine>(options.journalFile)) {
      if (line.op === 'accept') accepted.set(line.event.id, { busName: line.busName, event: line.event });
      else {
        const done = finished.get(line.eventId) ?? new Set<string>();
        done.add(`${line.ruleName}\n${line.targetId}`);
        finished.set(line.eventId, done);
      }
    }
    const unfinished = [...accepted.values()].filter(({ busName, event }) =>
      (rulesByBus.get(busName) ?? []).some(({ rule, pattern }) => pattern.matches(event) && rule.targets.some((t) => !(finished.get(event.id)?.has(`${rule.name}\n${t.id}`) ?? false))),
    );
    journal = Journal.compact<JournalLine>(options.journalFile, [
      ...unfinished.map(({ busName, event }) => ({ op: 'accept' as const, busName, event })),
      ...unfinished.flatMap(({ event }) =>
        [...(finished.get(event.id) ?? [])].map((key) => {
          const [ruleName = '', targetId = ''] = key.split('\n');
          return { op: 'done' as const, eventId: event.id, ruleName, targetId, status: 'delivered' as const, attempts: 1 };
        }),
      ),
    ]);
    for (const { busName, event } of unfinished) {
      keep(archive, event, archiveSize);
      route(busName, event, finished.get(event.id));
    }
    if (unfinished.length > 0) writeLog('INFO', 'undelivered events replayed from the journal', { count: unfinished.length });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      sendError(res, new AwsJsonError('InternalException', errorMessage(err), 500));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path?.startsWith('/_local/')) {
      const views: Record<string, () => unknown> = {
        '/_local/events': api.events,
        '/_local/deliveries': api.deliveries,
        '/_local/dead-letters': api.deadLetters,
      };
      const view = views[path];
      if (view === undefined) return sendJson(res, 404, { message: `No such route: ${path}` });
      return sendJson(res, 200, view());
    }
    if (req.method !== 'POST' || path !== '/') {
      return sendJson(res, 404, { message: 'The local event bus serves POST / (AWS JSON 1.1) and GET /_local/*' });
    }
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === undefined) return sendError(res, new AwsJsonError('ValidationException', 'Request body is too large.', 413));
    const target = req.headers['x-amz-target'];
    if (target !== 'AWSEvents.PutEvents') {
      return sendError(res, new AwsJsonError('UnknownOperationException', `The local event bus does not serve ${String(target)}.`));
    }
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : (JSON.parse(raw.toString('utf8')) as unknown);
    } catch {
      return sendError(res, new AwsJsonError('SerializationException', 'The request body is not valid JSON.'));
    }
    try {
      sendAws(res, putEvents(body));
    } catch (err) {
      if (err instanceof AwsJsonError) return sendError(res, err);
      throw err;
    }
  }

  const { port, urlHost } = await listen(server, options.port, options.host);

  return {
    endpoint: `http://${urlHost}:${port}`,
    ...api,
    async waitForIdle(timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (pending.size > 0) {
        const remaining = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          Promise.allSettled([...pending]).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), Math.max(remaining, 0));
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) throw new Error(`Local event bus: ${pending.size} deliveries still pending after ${timeoutMs} ms`);
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const [timer, wake] of sleeping) {
        clearTimeout(timer);
        wake();
      }
      sleeping.clear();
      await closeServer(server);
    },
  };
}


function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(text);
}

const sendAws = (res: ServerResponse, body: unknown): void => sendJson(res, 200, body, { 'content-type': JSON_CONTENT_TYPE });

/** awsJson1_1 error: `__type` in the body and `x-amzn-ErrorType` in the headers. */
function sendError(res: ServerResponse, error: AwsJsonError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    error.status,
    { __type: error.type, message: error.message },
    { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-ErrorType': error.type },
  );
}
