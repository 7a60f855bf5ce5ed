/**
 * A small local Amazon SQS: standard queues with visibility timeouts, redrive to a dead-letter queue
 * after `maxReceiveCount` receives, the SQS wire protocol that @aws-sdk/client-sqs speaks (AWS JSON
 * 1.0, `X-Amz-Target: AmazonSQS.<Operation>`) for the operations Trellis uses, and Lambda's SQS event
 * source mapping (a poller per mapping with `batchSize`, `maximumConcurrency` and
 * `ReportBatchItemFailures`). The queues and mappings come from serverless.yml (see
 * local/serverless-config.ts), as the local EventBridge's rules do.
 *
 * Why its own: no npm package runs SQS in-process without Java or Docker (ElasticMQ, LocalStack),
 * and Trellis needs the event source mapping's semantics (bounded concurrency, a failed batch item
 * returning after the visibility timeout, redrive on the Nth receive) to prove its issuer locally.
 *
 * Semantics kept from SQS (docs/aws-behaviour.md, "Amazon SQS"): at-least-once delivery; a received
 * message is invisible for the visibility timeout and comes back unless deleted; a message received
 * more than maxReceiveCount times moves to the DLQ on its next receive, keeping its id and body;
 * ReceiveMessage returns at most 10. Not modelled: FIFO queues, delays, long polling beyond one
 * immediate pass, message attributes other than strings, the approximate nature of receives.
 *
 * With `journalFile`, every message sent and not yet deleted survives a crash of the process (see
 * local/journal.ts); messages in flight at the crash are visible again after a restart.
 *
 * Debugging over HTTP (read-only JSON): GET /_local/queues.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen, readBody } from '../http-server';
import { Journal } from '../journal';

export interface LocalQueueDefinition {
  name: string;
  visibilityTimeoutSeconds: number;
  redrive?: { deadLetterQueue: string; maxReceiveCount: number };
}

export interface LocalEventSourceMapping {
  queueName: string;
  functionName: string;
  batchSize: number;
  /** Lambda's `ScalingConfig.MaximumConcurrency`: at most this many invocations at once (2–1000 in AWS). */
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
}

export interface MessageAttribute {
  DataType: 'String';
  StringValue: string;
}

export interface LocalMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  sentAt: number;
  attributes: Record<string, MessageAttribute>;
  receiveCount: number;
  firstReceivedAt?: number;
  visibleAt: number;
  receiptHandle?: string;
}

export interface LocalSqsOptions {
  port?: number;
  host?: string;
  region: string;
  accountId: string;
  queues: LocalQueueDefinition[];
  mappings: LocalEventSourceMapping[];
  invoke: (functionName: string, event: SqsEvent) => Promise<unknown>;
  /** Keep unsent-to-consumers messages across crashes (npm start --persist). */
  journalFile?: string;
  /** Tests: replaces every queue's visibility timeout (a failed message returns sooner). */
  visibilityTimeoutMs?: number;
  /** Pollers start once this resolves (the functions' runtime may still be starting). */
  targetsReady?: Promise<void>;
  /** How often idle pollers look for messages (default 20 ms). */
  pollIntervalMs?: number;
  now?: () => number;
}

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: { ApproximateReceiveCount: string; SentTimestamp: string; SenderId: string; ApproximateFirstReceiveTimestamp: string };
  messageAttributes: Record<string, { stringValue: string; dataType: string }>;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}
export interface SqsEvent {
  Records: SqsRecord[];
}

export interface LocalSqs {
  endpoint: string;
  queueUrl(name: string): string;
  queueArn(name: string): string;
  /** Sends as SendMessage does (the local EventBridge uses this for queue targets and target DLQs). */
  send(queueName: string, body: string, attributes?: Record<string, string>): string;
  /** Messages of a queue (visible or not), oldest first. */
  messages(queueName: string): LocalMessage[];
  /** Resolves when every mapped queue is empty and no invocation runs; rejects after timeoutMs. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

type JournalLine = { op: 'send'; queue: string; message: Pick<LocalMessage, 'messageId' | 'body' | 'sentAt' | 'attributes'> } | { op: 'delete'; queue: string; messageId: string } | { op: 'move'; from: string; to: string; messageId: string };

export class SqsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');
const MAX_BODY_BYTES = 1024 * 1024;

export async function startLocalSqs(options: LocalSqsOptions): Promise<LocalSqs> {
  const now = options.now ?? Date.now;
  const definitions = new Map(options.queues.map((q) => [q.name, q]));
  for (const q of options.queues) {
    if (q.redrive && !definitions.has(q.redrive.deadLetterQueue)) throw new Error(`Local SQS: queue ${q.name} redrives to ${q.redrive.deadLetterQueue}, which is not defined`);
  }
  for (const m of options.mappings) {
    if (!definitions.has(m.queueName)) throw new Error(`Local SQS: function ${m.functionName} reads queue ${m.queueName}, which is not defined`);
  }
  const queues = new Map<string, Map<string, LocalMessage>>(options.queues.map((q) => [q.name, new Map()]));
  const byHandle = new Map<string, { queue: string; messageId: string }>();

  // Replay the journal, then compact it to the live messages.
  let journal: Journal<JournalLine> | undefined;
  if (options.journalFile !== undefined) {
    for (const line of Journal.read<JournalLine>(options.journalFile)) {
      if (line.op === 'send') queues.get(line.queue)?.set(line.message.messageId, { ...line.message, md5OfBody: md5(line.message.body), receiveCount: 0, visibleAt: 0 });
      else if (line.op === 'delete') queues.get(line.queue)?.delete(line.messageId);
      else {
        const message = queues.get(line.from)?.get(line.messageId);
        queues.get(line.from)?.delete(line.messageId);
        if (message) queues.get(line.to)?.set(message.messageId, message);
      }
    }
    const live: JournalLine[] = [...queues].flatMap(([queue, messages]) =>
      [...messages.values()].map((m) => ({ op: 'send' as const, queue, message: { messageId: m.messageId, body: m.body, sentAt: m.sentAt, attributes: m.attributes } })),
    );
    journal = Journal.compact(options.journalFile, live);
  }

  const queueOf = (name: string): Map<string, LocalMessage> => {
    const q = queues.get(name);
    if (q === undefined) throw new SqsError('QueueDoesNotExist', `The specified queue ${name} does not exist.`);
    return q;
  };
  const visibilityMs = (name: string, requested?: number): number =>
    requested !== undefined ? requested * 1000 : (options.visibilityTimeoutMs ?? (definitions.get(name)?.visibilityTimeoutSeconds ?? 30) * 1000);

  const send = (queueName: string, body: string, attributes: Record<string, string> = {}): string => {
    const q = queueOf(queueName);
    const message: LocalMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5(body),
      sentAt: now(),
      attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String' as const, StringValue: v }])),
      receiveCount: 0,
      visibleAt: 0,
    };
    journal?.append({ op: 'send', queue: queueName, message: { messageId: message.messageId, body, sentAt: message.sentAt, attributes: message.attributes } });
    q.set(message.messageId, message);
    return message.messageId;
  };

  const remove = (queueName: string, messageId: string): void => {
    const q = queueOf(queueName);
    const m = q.get(messageId);
    if (m === undefined) return;
    if (m.receiptHandle) byHandle.delete(m.receiptHandle);
    q.delete(messageId);
    journal?.append({ op: 'delete', queue: queueName, messageId });
  };

  /** ReceiveMessage: visible messages, oldest first; one past its maxReceiveCount moves to the DLQ instead. */
  const receive = (queueName: string, max: number, visibilityTimeoutSeconds?: number): LocalMessage[] => {
    const q = queueOf(queueName);
    const redrive = definitions.get(queueName)?.redrive;
    const out: LocalMessage[] = [];
    const t = now();
    for (const m of [...q.values()]) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      if (redrive && m.receiveCount >= redrive.maxReceiveCount) {
        q.delete(m.messageId);
        if (m.receiptHandle) byHandle.delete(m.receiptHandle);
        journal?.append({ op: 'move', from: queueName, to: redrive.deadLetterQueue, messageId: m.messageId });
        queueOf(redrive.deadLetterQueue).set(m.messageId, { ...m, receiveCount: 0, visibleAt: 0, receiptHandle: undefined, firstReceivedAt: undefined });
        continue;
      }
      if (m.receiptHandle) byHandle.delete(m.receiptHandle);
      m.receiveCount += 1;
      m.firstReceivedAt ??= t;
      m.visibleAt = t + visibilityMs(queueName, visibilityTimeoutSeconds);
      m.receiptHandle = `${m.messageId}#${randomUUID()}`;
      byHandle.set(m.receiptHandle, { queue: queueName, messageId: m.messageId });
      out.push(m);
    }
    return out;
  };

  const byReceipt = (queueName: string, handle: unknown): LocalMessage | undefined => {
    if (typeof handle !== 'string' || handle === '') throw new SqsError('ReceiptHandleIsInvalid', 'The input receipt handle is invalid.');
    const ref = byHandle.get(handle);
    return ref && ref.queue === queueName ? queues.get(queueName)?.get(ref.messageId) : undefined;
  };

  // ---- the event source mappings
  let stopped = false;
  const running = new Map<LocalEventSourceMapping, number>(options.mappings.map((m) => [m, 0]));
  const inFlight = new Set<Promise<void>>();
  const queueArn = (name: string): string => `arn:aws:sqs:${options.region}:${options.accountId}:${name}`;
  const toRecord = (queueName: string, m: LocalMessage): SqsRecord => ({
    messageId: m.messageId,
    receiptHandle: m.receiptHandle ?? '',
    body: m.body,
    attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt), SenderId: options.accountId, ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt) },
    messageAttributes: Object.fromEntries(Object.entries(m.attributes).map(([k, v]) => [k, { stringValue: v.StringValue, dataType: v.DataType }])),
    md5OfBody: m.md5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn(queueName),
    awsRegion: options.region,
  });

  const runBatch = async (mapping: LocalEventSourceMapping, batch: LocalMessage[]): Promise<void> => {
    const records = batch.map((m) => toRecord(mapping.queueName, m));
    try {
      const result = await options.invoke(mapping.functionName, { Records: records });
      const failed = new Set<string>();
      if (mapping.reportBatchItemFailures && result && typeof result === 'object' && Array.isArray((result as { batchItemFailures?: unknown }).batchItemFailures)) {
        for (const f of (result as { batchItemFailures: { itemIdentifier?: unknown }[] }).batchItemFailures) failed.add(String(f.itemIdentifier));
      }
      // Deleted only if still this receive's: a message whose visibility ran out may be another worker's now.
      for (const r of records) if (!failed.has(r.messageId) && byReceipt(mapping.queueName, r.receiptHandle) !== undefined) remove(mapping.queueName, r.messageId);
    } catch {
      // The function failed: every message of the batch comes back after its visibility timeout.
    }
  };

  const poll = (): void => {
    if (stopped) return;
    for (const [mapping, busy] of running) {
      let active = busy;
      while (active < mapping.maximumConcurrency) {
        const batch = receive(mapping.queueName, mapping.batchSize);
        if (batch.length === 0) break;
        active += 1;
        running.set(mapping, active);
        const work = runBatch(mapping, batch).finally(() => {
          inFlight.delete(work);
          running.set(mapping, (running.get(mapping) ?? 1) - 1);
        });
        inFlight.add(work);
      }
    }
    timer = setTimeout(poll, options.pollIntervalMs ?? 20);
  };
  let timer: NodeJS.Timeout | undefined;
  void Promise.resolve(options.targetsReady).then(() => {
    if (!stopped) timer = setTimeout(poll, 0);
  });

  // ---- the wire protocol
  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    GetQueueUrl: (input) => {
      const name = String(input.QueueName ?? '');
      queueOf(name);
      return { QueueUrl: `${endpoint}/${options.accountId}/${name}` };
    },
    SendMessage: (input) => {
      const body = String(input.MessageBody ?? '');
      if (body === '') throw new SqsError('InvalidParameterValue', 'The request must contain the parameter MessageBody.');
      const attrs = Object.fromEntries(Object.entries((input.MessageAttributes ?? {}) as Record<string, { StringValue?: string }>).map(([k, v]) => [k, String(v.StringValue ?? '')]));
      return { MessageId: send(nameOfUrl(input.QueueUrl), body, attrs), MD5OfMessageBody: md5(body) };
    },
    ReceiveMessage: (input) => {
      const max = Number(input.MaxNumberOfMessages ?? 1);
      if (!Number.isInteger(max) || max < 1 || max > 10) throw new SqsError('InvalidParameterValue', 'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.');
      const visibility = input.VisibilityTimeout === undefined ? undefined : Number(input.VisibilityTimeout);
      const messages = receive(nameOfUrl(input.QueueUrl), max, visibility);
      return {
        Messages: messages.map((m) => ({
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: m.md5OfBody,
          Body: m.body,
          Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt) },
          ...(Object.keys(m.attributes).length > 0 ? { MessageAttributes: m.attributes } : {}),
        })),
      };
    },
    DeleteMessage: (input) => {
      const queueName = nameOfUrl(input.QueueUrl);
      const m = byReceipt(queueName, input.ReceiptHandle);
      if (m) remove(queueName, m.messageId);
      return {};
    },
    ChangeMessageVisibility: (input) => {
      const queueName = nameOfUrl(input.QueueUrl);
      const m = byReceipt(queueName, input.ReceiptHandle);
      if (m === undefined) throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.');
      m.visibleAt = now() + Number(input.VisibilityTimeout ?? 0) * 1000;
      return {};
    },
    GetQueueAttributes: (input) => {
      const name = nameOfUrl(input.QueueUrl);
      const messages = [...queueOf(name).values()];
      const t = now();
      return {
        Attributes: {
          QueueArn: queueArn(name),
          ApproximateNumberOfMessages: String(messages.filter((m) => m.visibleAt <= t).length),
          ApproximateNumberOfMessagesNotVisible: String(messages.filter((m) => m.visibleAt > t).length),
        },
      };
    },
  };

  const nameOfUrl = (url: unknown): string => {
    const name = typeof url === 'string' ? url.split('/').pop() : undefined;
    if (!name) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    queueOf(name);
    return name;
  };

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-RequestId': randomUUID(),
      ...(errorType ? { 'x-amzn-query-error': `AWS.SimpleQueueService.${errorType};Sender` } : {}),
    });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/_local/queues') {
      return reply(res, 200, Object.fromEntries([...queues].map(([name, q]) => [name, [...q.values()]])));
    }
    const raw = await readBody(req, MAX_BODY_BYTES);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = operations[target.replace(/^AmazonSQS\./, '')];
    try {
      if (raw === undefined) throw new SqsError('InvalidParameterValue', 'Request body is too large.');
      if (req.method !== 'POST' || !target.startsWith('AmazonSQS.') || operation === undefined) throw new SqsError('UnsupportedOperation', `The local SQS does not serve ${target || '(no X-Amz-Target)'}.`);
      let input: unknown;
      try {
        input = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new SqsError('InvalidParameterValue', 'The request body is not valid JSON.');
      }
      reply(res, 200, operation((input ?? {}) as Record<string, unknown>));
    } catch (error) {
      const e = error instanceof SqsError ? error : new SqsError('InternalFailure', String(error), 500);
      reply(res, e.status, { __type: `com.amazonaws.sqs#${e.type}`, message: e.message }, e.type);
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  const { port, urlHost } = await listen(server, options.port, options.host);
  const endpoint = `http://${urlHost}:${port}`;

  return {
    endpoint,
    queueUrl: (name) => `${endpoint}/${options.accountId}/${name}`,
    queueArn,
    send,
    messages: (name) => [...queueOf(name).values()].map((m) => ({ ...m })),
    async waitForIdle(timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const busy = (): boolean => inFlight.size > 0 || options.mappings.some((m) => (queues.get(m.queueName)?.size ?? 0) > 0);
      while (busy()) {
        if (Date.now() > deadline) throw new Error(`Local SQS: still busy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await Promise.allSettled([...inFlight]);
      await closeServer(server);
    },
  };
}
