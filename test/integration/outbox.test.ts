/**
 * The event-publishing failure path: the write is acknowledged with its events kept in the
 * item's outbox, and the scheduled sweep publishes them later. Publishing fails against the
 * real local EventBridge being unreachable, and (aws-sdk-client-mock) against a partial
 * PutEvents failure, which the stand-in cannot be made to produce for a valid entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { EventBridgePublisher } from '../../shared/events/publisher';
import { Outbox } from '../../shared/outbox/outbox';
import { WorkloadRepository } from '../../shared/workloads/repository';
import { deleteWorkload, registerWorkload } from '../../shared/workloads/service';

let stack: InProcessStack;
let db: DynamoDBDocumentClient;
const TABLE = 'trellis-local-workloads';

beforeAll(async () => {
  stack = await startInProcessStack();
  db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
});
afterAll(async () => {
  await stack?.stop();
});

const input = (path: string) => ({ spiffeId: `spiffe://example.org/${path}`, selectors: { awsPrincipalArns: [] } });

function depsWithBrokenBus() {
  // A bus endpoint nothing listens on: a real connection failure, no retries.
  const broken = new EventBridgeClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
  const repo = new WorkloadRepository(db, TABLE);
  return { repo, outbox: new Outbox(db, new EventBridgePublisher(broken, 'trellis-local')) };
}

const publishedFor = (id: string) =>
  stack.bus.events().filter((e) => JSON.stringify(e.detail).includes(id));

describe('when publishing fails after the write', () => {
  it('acknowledges the change, keeps the event in the outbox, and the sweep publishes it exactly then', async () => {
    const workload = await registerWorkload(depsWithBrokenBus(), input('outbox/a'));
    const stored = await db.send(new GetCommand({ TableName: TABLE, Key: { id: workload.id } }));
    expect(stored.Item?.pendingEvents).toHaveLength(1);
    expect(stored.Item?.outboxShard).toBe('pending');
    await stack.bus.waitForIdle(2000);
    expect(publishedFor(workload.id)).toHaveLength(0);

    process.env.OUTBOX_GRACE_MS = '0';
    const result = (await stack.invoke('outboxSweeper', {})) as { published: number };
    expect(result.published).toBeGreaterThanOrEqual(1);
    await stack.bus.waitForIdle(2000);
    const events = publishedFor(workload.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.['detail-type']).toBe('WorkloadRegistered');
    expect(JSON.parse(stored.Item?.pendingEvents[0].detail)).toEqual(events[0]?.detail);
    const after = await db.send(new GetCommand({ TableName: TABLE, Key: { id: workload.id } }));
    expect(after.Item?.pendingEvents).toBeUndefined();
    expect(after.Item?.outboxShard).toBeUndefined();
  });

  it('keeps a deleted entry as a tombstone (invisible to the API) until WorkloadDeleted is published', async () => {
    const good = { repo: new WorkloadRepository(db, TABLE), outbox: new Outbox(db, new EventBridgePublisher(new EventBridgeClient({}), 'trellis-local')) };
    const workload = await registerWorkload(good, input('outbox/b'));
    await deleteWorkload(depsWithBrokenBus(), workload.id);
    const tomb = await db.send(new GetCommand({ TableName: TABLE, Key: { id: workload.id } }));
    expect(tomb.Item?.tombstone).toBe(true);
    expect(await good.repo.get(workload.id)).toBeUndefined();

    process.env.OUTBOX_GRACE_MS = '0';
    await stack.invoke('outboxSweeper', {});
    await stack.bus.waitForIdle(2000);
    expect(publishedFor(workload.id).map((e) => e['detail-type'])).toEqual(['WorkloadRegistered', 'WorkloadDeleted']);
    expect((await db.send(new GetCommand({ TableName: TABLE, Key: { id: workload.id } }))).Item).toBeUndefined();
  });

  it('treats a partial PutEvents failure as a failure (the outbox keeps the event)', async () => {
    const client = new EventBridgeClient({});
    // aws-sdk-client-mock is typed against an older @smithy/types than this client: the casts bridge the two.
    const mock = mockClient(client as unknown as Parameters<typeof mockClient>[0]);
    const command = PutEventsCommand as unknown as Parameters<typeof mock.on>[0];
    mock.on(command).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try later' }] } as never);
    const deps = { repo: new WorkloadRepository(db, TABLE), outbox: new Outbox(db, new EventBridgePublisher(client, 'trellis-local')) };
    const workload = await registerWorkload(deps, input('outbox/c'));
    expect(mock.commandCalls(command)).toHaveLength(1);
    expect(mock.commandCalls(command)[0]?.args[0].input).toMatchObject({ Entries: [{ Source: 'trellis', DetailType: 'WorkloadRegistered', EventBusName: 'trellis-local' }] });
    const stored = await db.send(new GetCommand({ TableName: TABLE, Key: { id: workload.id } }));
    expect(stored.Item?.pendingEvents).toHaveLength(1);
    mock.restore();
  });
});
