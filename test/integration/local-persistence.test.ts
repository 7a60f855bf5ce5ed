/**
 * The local EventBridge and the local SQS keep what they accepted across a crash (npm start
 * --persist): an event PutEvents acknowledged but not yet delivered, and a queue message not yet
 * deleted, are delivered after a restart on the same journal. A "crash" here is a stand-in whose
 * targets never answer, abandoned (its journal is what a SIGKILL leaves: lines are written
 * synchronously before each acknowledgement).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient, SendMessageCommand, GetQueueUrlCommand, DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalBus, type LocalRule, type TargetPayload } from '../../local/eventbridge/bus';
import { startLocalSqs, type SqsEvent } from '../../local/sqs/local-sqs';

const dir = mkdtempSync(join(tmpdir(), 'trellis-persist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const rules: LocalRule[] = [
  { name: 'to-fn', eventBusName: 'trellis', pattern: { source: ['trellis'] }, targets: [{ id: 'fn', functionName: 'fn' }] },
  { name: 'to-queue', eventBusName: 'trellis', pattern: { 'detail-type': ['Queued'] }, targets: [{ id: 'q', queueName: 'requests' }] },
];
const never = new Promise<void>(() => {});

describe('local EventBridge --persist', () => {
  it('delivers after a restart what it acknowledged before the crash, and only what was not delivered', async () => {
    const journalFile = join(dir, 'eventbridge.jsonl');
    const first = await startLocalBus({ buses: ['trellis'], rules: rules.slice(0, 1), journalFile, invoke: async (_fn, payload) => {
      if ((payload as { detail?: { n?: number } }).detail?.n === 1) return; // delivered before the crash
      await never;
    } });
    const client = new EventBridgeClient({ endpoint: first.endpoint, region: 'us-east-1', credentials });
    const out = await client.send(new PutEventsCommand({ Entries: [1, 2, 3].map((n) => ({ EventBusName: 'trellis', Source: 'trellis', DetailType: 'Thing', Detail: JSON.stringify({ n }) })) }));
    expect(out.FailedEntryCount).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    client.destroy();
    // the crash: the first bus is abandoned with two deliveries hanging (its server closed, nothing flushed)
    void first.stop();

    const delivered: number[] = [];
    const second = await startLocalBus({ buses: ['trellis'], rules: rules.slice(0, 1), journalFile, invoke: async (_fn, payload: TargetPayload) => {
      delivered.push(Number((payload as { detail: { n: number } }).detail.n));
    } });
    await second.waitForIdle(5_000);
    expect(delivered.sort()).toEqual([2, 3]);
    await second.stop();
    // and nothing is delivered a third time once done
    const third: number[] = [];
    const again = await startLocalBus({ buses: ['trellis'], rules: rules.slice(0, 1), journalFile, invoke: async (_fn, p) => void third.push(Number((p as { detail: { n: number } }).detail.n)) });
    await again.waitForIdle(5_000);
    expect(third).toEqual([]);
    await again.stop();
  });
});

describe('local SQS', () => {
  const queues = [
    { name: 'requests', visibilityTimeoutSeconds: 30, redrive: { deadLetterQueue: 'requests-dlq', maxReceiveCount: 2 } },
    { name: 'requests-dlq', visibilityTimeoutSeconds: 30 },
  ];

  it('speaks the SQS protocol of @aws-sdk/client-sqs, and keeps unsent messages across a crash', async () => {
    const journalFile = join(dir, 'sqs.jsonl');
    const first = await startLocalSqs({ region: 'us-east-1', accountId: '111122223333', queues, mappings: [], journalFile, invoke: async () => undefined });
    const client = new SQSClient({ endpoint: first.endpoint, region: 'us-east-1', credentials });
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: 'requests' }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'two' }));
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 30 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['one']);
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: got.Messages?.[0]?.ReceiptHandle }));
    client.destroy();
    void first.stop();

    const bodies: string[] = [];
    const second = await startLocalSqs({
      region: 'us-east-1', accountId: '111122223333', queues, journalFile,
      mappings: [{ queueName: 'requests', functionName: 'fn', batchSize: 1, maximumConcurrency: 2, reportBatchItemFailures: true }],
      invoke: async (_fn, event: SqsEvent) => {
        bodies.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
    });
    await second.waitForIdle(5_000);
    expect(bodies).toEqual(['two']);
    await second.stop();
  });

  it('runs at most maximumConcurrency invocations at once, returns failed batch items, and redrives after maxReceiveCount', async () => {
    let active = 0;
    let most = 0;
    const receives = new Map<string, number>();
    const sqs = await startLocalSqs({
      region: 'us-east-1', accountId: '111122223333', queues, visibilityTimeoutMs: 10,
      mappings: [{ queueName: 'requests', functionName: 'fn', batchSize: 1, maximumConcurrency: 3, reportBatchItemFailures: true }],
      invoke: async (_fn, event: SqsEvent) => {
        active += 1;
        most = Math.max(most, active);
        await new Promise((r) => setTimeout(r, 5));
        active -= 1;
        const record = event.Records[0];
        receives.set(record?.body ?? '', Number(record?.attributes.ApproximateReceiveCount));
        return { batchItemFailures: record?.body === 'poison' ? [{ itemIdentifier: record.messageId }] : [] };
      },
    });
    for (let i = 0; i < 20; i += 1) sqs.send('requests', `m${i}`);
    sqs.send('requests', 'poison');
    await sqs.waitForIdle(5_000);
    expect(most).toBe(3);
    expect(receives.get('poison')).toBe(2);
    expect(sqs.messages('requests-dlq').map((m) => m.body)).toEqual(['poison']);
    await sqs.stop();
  });
});
