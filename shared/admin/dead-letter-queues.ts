/**
 * The dead-letter queues as the admin use cases see them, over @aws-sdk/client-sqs (the local SQS
 * stand-in serves the same calls): the events DLQ (EventBridge target DLQ: the event is the body,
 * why it failed in the RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE attributes) and the SVID
 * request DLQ (messages whose receives all failed: the event is the body, no attributes).
 *
 * SQS has no "list" call: messages are read with ReceiveMessage, which hides each one for a
 * visibility timeout. Reading for display therefore hides them briefly and makes them visible
 * again at once (ChangeMessageVisibility 0); receives are sampled, so a large queue may be shown
 * partially (docs/aws-behaviour.md, "Amazon SQS").
 */
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface DeadLetter {
  queue: string;
  messageId: string;
  receiptHandle: string;
  body: string;
  sentAt?: string;
  attributes: Record<string, string>;
}

const RECEIVE_MAX = 10;

export class DeadLetterQueues {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(
    private readonly client: SQSClient,
    readonly names: readonly string[],
  ) {}

  private url(name: string): Promise<string> {
    let url = this.urls.get(name);
    if (url === undefined) {
      url = this.client.send(new GetQueueUrlCommand({ QueueName: name })).then((out) => {
        if (!out.QueueUrl) throw new Error(`GetQueueUrl returned no URL for ${name}`);
        return out.QueueUrl;
      });
      url.catch(() => this.urls.delete(name));
      this.urls.set(name, url);
    }
    return url;
  }

  /** Approximate number of messages in each queue, visible or in flight (GetQueueAttributes: nothing is received). */
  async depths(): Promise<Record<string, number>> {
    const entries = await Promise.all(
      this.names.map(async (name) => {
        const out = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: await this.url(name), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
        const a = out.Attributes ?? {};
        return [name, Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0)] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  /** Receives up to `max` messages, each hidden for `hideSeconds` (deduplicated: a receive may return one twice). */
  async take(name: string, max: number, hideSeconds: number): Promise<DeadLetter[]> {
    const url = await this.url(name);
    const seen = new Map<string, DeadLetter>();
    while (seen.size < max) {
      const out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(RECEIVE_MAX, max - seen.size),
          VisibilityTimeout: hideSeconds,
          MessageSystemAttributeNames: ['SentTimestamp'],
          MessageAttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      let fresh = 0;
      for (const m of messages) {
        if (!m.MessageId || !m.ReceiptHandle || seen.has(m.MessageId)) continue;
        fresh += 1;
        const sent = m.Attributes?.SentTimestamp;
        seen.set(m.MessageId, {
          queue: name,
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body ?? '',
          ...(sent ? { sentAt: new Date(Number(sent)).toISOString() } : {}),
          attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
        });
      }
      if (fresh === 0) break;
    }
    return [...seen.values()];
  }

  async release(letter: DeadLetter): Promise<void> {
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: await this.url(letter.queue), ReceiptHandle: letter.receiptHandle, VisibilityTimeout: 0 }));
  }

  async remove(letter: DeadLetter): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: await this.url(letter.queue), ReceiptHandle: letter.receiptHandle }));
  }
}

/** The event a dead letter holds, if its body is an EventBridge event. */
export interface DeadEvent {
  id?: string;
  source: string;
  detailType: string;
  detail: unknown;
  eventBusName?: string;
  time?: string;
}

export function eventOf(letter: DeadLetter): DeadEvent | undefined {
  try {
    const e = JSON.parse(letter.body) as Record<string, unknown>;
    if (typeof e.source !== 'string' || typeof e['detail-type'] !== 'string' || typeof e.detail !== 'object' || e.detail === null) return undefined;
    return { ...(typeof e.id === 'string' ? { id: e.id } : {}), source: e.source, detailType: e['detail-type'], detail: e.detail, ...(typeof e.time === 'string' ? { time: e.time } : {}) };
  } catch {
    return undefined;
  }
}
