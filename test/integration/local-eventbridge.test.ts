import { EventBridgeClient, ListRulesCommand, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalBus, type EventBridgeEvent, type LocalBus, type LocalRule, type TargetPayload } from '../../local/eventbridge/bus';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const rules: LocalRule[] = [
  {
    name: 'issue-on-registered',
    eventBusName: 'trellis',
    pattern: { source: ['trellis'], 'detail-type': ['WorkloadRegistered'], detail: { spiffeId: [{ prefix: 'spiffe://example.org/' }] } },
    targets: [{ id: 'issuer', functionName: 'issuer' }],
  },
  {
    name: 'regenerate-on-grant',
    eventBusName: 'trellis',
    pattern: { source: ['trellis'], 'detail-type': ['GrantChanged'] },
    targets: [{ id: 'regenerate', functionName: 'regenerate' }],
  },
  {
    // Same pattern on a bus whose name contains "trellis": the plugin's substring test delivered here too.
    name: 'other-bus-issue',
    eventBusName: 'trellis-dev',
    pattern: { source: ['trellis'], 'detail-type': ['WorkloadRegistered'] },
    targets: [{ id: 'other', functionName: 'other-bus-issuer' }],
  },
  { name: 'flaky', eventBusName: 'trellis', pattern: { 'detail-type': ['Flaky'] }, targets: [{ id: 'flaky', functionName: 'flaky' }] },
  { name: 'broken', eventBusName: 'trellis', pattern: { 'detail-type': ['Broken'] }, targets: [{ id: 'broken', functionName: 'broken' }] },
  { name: 'gated', eventBusName: 'trellis', pattern: { 'detail-type': ['Gated'] }, targets: [{ id: 'gated', functionName: 'gated' }] },
  {
    name: 'constant-input',
    eventBusName: 'trellis',
    pattern: { 'detail-type': ['Reconcile'] },
    targets: [
      { id: 'with-input', functionName: 'reconciler', input: { mode: 'all' } },
      { id: 'plain', functionName: 'reconciler-plain' },
    ],
  },
];

interface Call {
  functionName: string;
  payload: TargetPayload;
}

let bus: LocalBus;
let client: EventBridgeClient;
let calls: Call[] = [];
let flakyFailuresLeft = 0;
let openGate: () => void = () => undefined;
let gate: Promise<void> = Promise.resolve();

async function invoke(functionName: string, payload: TargetPayload): Promise<void> {
  calls.push({ functionName, payload });
  if (functionName === 'flaky' && flakyFailuresLeft > 0) {
    flakyFailuresLeft -= 1;
    throw new Error('flaky: cold start timeout');
  }
  if (functionName === 'broken') throw new Error('broken: Task timed out after 3.00 seconds');
  if (functionName === 'gated') await gate;
}

const entry = (overrides: PutEventsRequestEntry = {}): PutEventsRequestEntry => ({
  EventBusName: 'trellis',
  Source: 'trellis',
  DetailType: 'WorkloadRegistered',
  Detail: JSON.stringify({ spiffeId: 'spiffe://example.org/service/orders', revision: 1 }),
  ...overrides,
});

const eventIdOf = (result: { EventId?: string } | undefined): string => {
  expect(result?.EventId).toMatch(UUID);
  return result?.EventId as string;
};

beforeAll(async () => {
  bus = await startLocalBus({ buses: ['trellis', 'trellis-dev'], rules, invoke, maxAttempts: 3, retryBaseMs: 5 });
  client = new EventBridgeClient({
    endpoint: bus.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
  });
});

afterAll(async () => {
  client?.destroy();
  await bus?.stop();
});

beforeEach(() => {
  calls = [];
});

describe('local EventBridge: PutEvents and routing', () => {
  it('delivers the real envelope to the matching rule only, after answering', async () => {
    const time = new Date('2026-03-04T05:06:07.890Z');
    const out = await client.send(
      new PutEventsCommand({ Entries: [entry({ Time: time, Resources: ['arn:aws:lambda:us-east-1:000000000000:function:orders'] })] }),
    );
    expect(out.FailedEntryCount).toBe(0);
    const id = eventIdOf(out.Entries?.[0]);

    await bus.waitForIdle();
    const expected: EventBridgeEvent = {
      version: '0',
      id,
      'detail-type': 'WorkloadRegistered',
      source: 'trellis',
      account: '000000000000',
      time: '2026-03-04T05:06:07Z',
      region: 'us-east-1',
      resources: ['arn:aws:lambda:us-east-1:000000000000:function:orders'],
      detail: { spiffeId: 'spiffe://example.org/service/orders', revision: 1 },
    };
    // Only the issuer: not regenerate (other detail-type), not the rule on trellis-dev (other bus).
    expect(calls).toEqual([{ functionName: 'issuer', payload: expected }]);
    expect(bus.events().at(-1)).toEqual(expected);
    expect(bus.deliveries().filter((d) => d.eventId === id)).toEqual([
      { eventId: id, ruleName: 'issue-on-registered', targetId: 'issuer', functionName: 'issuer', attempts: 1, status: 'delivered', event: expected },
    ]);
  });

  it('gives every event its own UUID and stamps time without milliseconds when Time is absent', async () => {
    const before = Date.now();
    const out = await client.send(new PutEventsCommand({ Entries: [entry(), entry()] }));
    const [a, b] = [eventIdOf(out.Entries?.[0]), eventIdOf(out.Entries?.[1])];
    expect(a).not.toBe(b);
    await bus.waitForIdle();
    const event = bus.events().find((e) => e.id === a);
    expect(event?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(event?.time ?? '')).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(event?.resources).toEqual([]);
    expect(calls.map((c) => c.functionName)).toEqual(['issuer', 'issuer']);
  });

  it('matches the bus by exact name: trellis and trellis-dev do not see each other', async () => {
    const toDev = await client.send(new PutEventsCommand({ Entries: [entry({ EventBusName: 'trellis-dev' })] }));
    expect(toDev.FailedEntryCount).toBe(0);
    await bus.waitForIdle();
    expect(calls.map((c) => c.functionName)).toEqual(['other-bus-issuer']);

    calls = [];
    const byArn = await client.send(
      new PutEventsCommand({ Entries: [entry({ EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/trellis' })] }),
    );
    expect(byArn.FailedEntryCount).toBe(0);
    await bus.waitForIdle();
    expect(calls.map((c) => c.functionName)).toEqual(['issuer']);
  });

  it('sends to the default bus when EventBusName is empty, where no Trellis rule listens', async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ EventBusName: undefined })] }));
    expect(out.FailedEntryCount).toBe(0);
    await bus.waitForIdle();
    expect(calls).toEqual([]);
  });

  it('applies content filters: a non-matching detail reaches no rule', async () => {
    const out = await client.send(
      new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ spiffeId: 'spiffe://evil.example/service/x' }) })] }),
    );
    expect(out.FailedEntryCount).toBe(0);
    await bus.waitForIdle();
    expect(calls).toEqual([]);
  });

  it('answers PutEvents before the target has finished (delivery is asynchronous)', async () => {
    gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'Gated' })] }));
    const id = eventIdOf(out.Entries?.[0]);
    expect(bus.deliveries().find((d) => d.eventId === id)?.status).toBe('pending');
    await expect(bus.waitForIdle(50)).rejects.toThrow('1 deliveries still pending');
    openGate();
    await bus.waitForIdle();
    expect(bus.deliveries().find((d) => d.eventId === id)?.status).toBe('delivered');
  });

  it('sends a target its constant input instead of the event, and the event to the others', async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'Reconcile', Detail: '{}' })] }));
    const id = eventIdOf(out.Entries?.[0]);
    await bus.waitForIdle();
    expect(calls.find((c) => c.functionName === 'reconciler')?.payload).toEqual({ mode: 'all' });
    expect(calls.find((c) => c.functionName === 'reconciler-plain')?.payload).toMatchObject({ id, detail: {} });
  });
});

describe('local EventBridge: retries and dead letters', () => {
  it('retries a failing target and records the delivery once it succeeds', async () => {
    flakyFailuresLeft = 2;
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'Flaky' })] }));
    const id = eventIdOf(out.Entries?.[0]);
    await bus.waitForIdle();
    expect(calls.map((c) => c.functionName)).toEqual(['flaky', 'flaky', 'flaky']);
    const record = bus.deliveries().find((d) => d.eventId === id);
    expect(record).toMatchObject({ status: 'delivered', attempts: 3, ruleName: 'flaky', targetId: 'flaky' });
    expect(record?.error).toBeUndefined();
    expect(bus.deadLetters().some((d) => d.eventId === id)).toBe(false);
  });

  it('dead-letters the event after maxAttempts, with the error, the event and the target', async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'Broken', Detail: '{"n":1}' })] }));
    const id = eventIdOf(out.Entries?.[0]);
    await bus.waitForIdle();
    expect(calls.map((c) => c.functionName)).toEqual(['broken', 'broken', 'broken']);
    const dead = bus.deadLetters().filter((d) => d.eventId === id);
    expect(dead).toEqual([
      {
        eventId: id,
        ruleName: 'broken',
        targetId: 'broken',
        functionName: 'broken',
        attempts: 3,
        status: 'dead-letter',
        error: 'broken: Task timed out after 3.00 seconds',
        event: expect.objectContaining({ id, 'detail-type': 'Broken', detail: { n: 1 } }),
      },
    ]);

    const overHttp = (await (await fetch(`${bus.endpoint}/_local/dead-letters`)).json()) as { eventId: string }[];
    expect(overHttp.filter((d) => d.eventId === id)).toEqual(JSON.parse(JSON.stringify(dead)));
  });
});

describe('local EventBridge: errors as EventBridge returns them', () => {
  it('fails individual entries and counts them in FailedEntryCount', async () => {
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          entry(),
          entry({ Source: undefined }),
          entry({ DetailType: undefined }),
          entry({ Detail: undefined }),
          entry({ Detail: '{not json' }),
          entry({ Detail: '["an array"]' }),
          entry({ EventBusName: 'trellis-prod' }),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(6);
    expect(out.Entries?.[0]?.EventId).toMatch(UUID);
    expect(out.Entries?.slice(1)).toEqual([
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' },
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' },
      { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      { ErrorCode: 'ResourceNotFoundException', ErrorMessage: 'Event bus trellis-prod does not exist.' },
    ]);
    await bus.waitForIdle();
    expect(calls.map((c) => c.functionName)).toEqual(['issuer']);
  });

  it('rejects more than 10 entries with ValidationException, delivering nothing', async () => {
    const before = bus.events().length;
    const error = await client
      .send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) }))
      .then(() => undefined, (err: unknown) => err as Error & { $metadata: { httpStatusCode?: number } });
    expect(error?.name).toBe('ValidationException');
    expect(error?.message).toContain('Member must have length less than or equal to 10');
    expect(error?.$metadata.httpStatusCode).toBe(400);
    expect(bus.events().length).toBe(before);
    expect(calls).toEqual([]);
  });

  it('rejects an empty Entries list and a request over 256 KB with ValidationException', async () => {
    await expect(client.send(new PutEventsCommand({ Entries: [] }))).rejects.toMatchObject({ name: 'ValidationException' });
    const big = JSON.stringify({ blob: 'x'.repeat(130 * 1024) });
    await expect(client.send(new PutEventsCommand({ Entries: [entry({ Detail: big }), entry({ Detail: big })] }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    // One such entry alone is under the limit.
    const one = await client.send(new PutEventsCommand({ Entries: [entry({ Detail: big, DetailType: 'Unrouted' })] }));
    expect(one.FailedEntryCount).toBe(0);
  });

  it('answers operations it does not serve with UnknownOperationException', async () => {
    await expect(client.send(new ListRulesCommand({}))).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });

  it('encodes errors as awsJson1_1 (__type and x-amzn-ErrorType) for curl users too', async () => {
    const res = await fetch(bus.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: '{"Entries": "nope"',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('SerializationException');
    expect(await res.json()).toEqual({ __type: 'SerializationException', message: 'The request body is not valid JSON.' });
  });

  it('serves accepted events read-only at GET /_local/events', async () => {
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ DetailType: 'Unrouted' })] }));
    const id = eventIdOf(out.Entries?.[0]);
    const res = await fetch(`${bus.endpoint}/_local/events`);
    expect(res.status).toBe(200);
    const events = (await res.json()) as EventBridgeEvent[];
    expect(events.at(-1)).toMatchObject({ id, 'detail-type': 'Unrouted', source: 'trellis' });
    expect((await fetch(`${bus.endpoint}/_local/nothing`)).status).toBe(404);
  });
});

describe('startLocalBus configuration', () => {
  const base = { buses: ['trellis'], invoke: async (): Promise<void> => undefined };

  it('refuses an invalid pattern, naming the rule', async () => {
    await expect(
      startLocalBus({ ...base, rules: [{ name: 'bad', eventBusName: 'trellis', pattern: { source: [{ numeric: ['>', 'x'] }] }, targets: [] }] }),
    ).rejects.toThrow('rule bad on bus trellis: Event pattern is not valid. Reason: Value of > must be numeric');
  });

  it('refuses a rule on a bus that does not exist', async () => {
    await expect(
      startLocalBus({ ...base, rules: [{ name: 'r', eventBusName: 'trellis-dev', pattern: { source: ['x'] }, targets: [] }] }),
    ).rejects.toThrow('the bus does not exist');
  });

  it('refuses duplicate target ids and more than 5 targets', async () => {
    const target = { id: 't', functionName: 'f' };
    await expect(
      startLocalBus({ ...base, rules: [{ name: 'r', eventBusName: 'trellis', pattern: { source: ['x'] }, targets: [target, target] }] }),
    ).rejects.toThrow('target id t is used twice');
    const six = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, functionName: 'f' }));
    await expect(
      startLocalBus({ ...base, rules: [{ name: 'r', eventBusName: 'trellis', pattern: { source: ['x'] }, targets: six }] }),
    ).rejects.toThrow('EventBridge allows 5 per rule');
  });
});
