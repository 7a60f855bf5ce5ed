/**
 * Transactional outbox without transactions: the events a change must publish are written in
 * the SAME single-item conditional write as the change (dynalite has no transactions, and one
 * item is atomic on DynamoDB too). After the write the caller publishes them and clears the
 * outbox; if publishing fails the change stays acknowledged and marked, and the scheduled sweep
 * (functions/outbox-sweeper) publishes it later. Deletions leave a tombstone carrying the event
 * until it is published. Delivery is therefore at least once, never zero times.
 */
import { DeleteCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { PendingEvent } from '../events/catalog';
import type { EventPublisher } from '../events/publisher';
import { logger } from '../logger';

export const OUTBOX_INDEX = 'OutboxIndex';
export const OUTBOX_SHARD = 'pending';

/** Attributes an item carries while it has unpublished events. */
export interface OutboxAttributes {
  pendingEvents?: PendingEvent[];
  outboxShard?: string;
  outboxSince?: string;
  tombstone?: boolean;
  revision: number;
}

export function outboxAttributes(events: PendingEvent[], now: Date): Required<Pick<OutboxAttributes, 'pendingEvents' | 'outboxShard' | 'outboxSince'>> {
  return { pendingEvents: events, outboxShard: OUTBOX_SHARD, outboxSince: now.toISOString() };
}

/** The UpdateExpression fragment that appends events to an item's outbox. */
export const APPEND_OUTBOX =
  'pendingEvents = list_append(if_not_exists(pendingEvents, :noEvents), :events), outboxShard = :outboxShard, outboxSince = if_not_exists(outboxSince, :now)';

export function appendOutboxValues(events: PendingEvent[], now: Date): Record<string, unknown> {
  return { ':noEvents': [], ':events': events, ':outboxShard': OUTBOX_SHARD, ':now': now.toISOString() };
}

export interface FlushTarget {
  table: string;
  key: Record<string, string>;
  events: PendingEvent[];
  revision: number;
  tombstone: boolean;
}

export class Outbox {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * Publishes an item's pending events and clears them. Never throws for a publishing failure:
   * the change is already committed and the sweep will retry. Returns whether it published.
   */
  async flush(target: FlushTarget): Promise<boolean> {
    if (target.events.length === 0) return true;
    try {
      await this.publisher.publish(target.events);
    } catch (error) {
      logger.warn('event publishing failed; the outbox sweep will retry', {
        table: target.table,
        key: target.key,
        eventIds: target.events.map((e) => e.eventId),
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
    await this.clear(target);
    return true;
  }

  private async clear(target: FlushTarget): Promise<void> {
    try {
      if (target.tombstone) {
        await this.db.send(
          new DeleteCommand({
            TableName: target.table,
            Key: target.key,
            ConditionExpression: 'revision = :rev AND tombstone = :yes',
            ExpressionAttributeValues: { ':rev': target.revision, ':yes': true },
          }),
        );
      } else {
        await this.db.send(
          new UpdateCommand({
            TableName: target.table,
            Key: target.key,
            UpdateExpression: 'REMOVE pendingEvents, outboxShard, outboxSince',
            ConditionExpression: 'revision = :rev',
            ExpressionAttributeValues: { ':rev': target.revision },
          }),
        );
      }
    } catch (error) {
      // A newer write appended its own events after ours; its writer publishes the whole list
      // (ours again included: at least once), so there is nothing to clear here.
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
  }

  /** Publishes every outbox older than `olderThanMs` (younger ones are still being flushed by their writer). */
  async sweep(table: string, keyNames: readonly string[], olderThanMs: number, now: Date = new Date()): Promise<{ published: number; failed: number }> {
    const cutoff = new Date(now.getTime() - olderThanMs).toISOString();
    let published = 0;
    let failed = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: table,
          IndexName: OUTBOX_INDEX,
          KeyConditionExpression: 'outboxShard = :p AND outboxSince <= :cutoff',
          ExpressionAttributeValues: { ':p': OUTBOX_SHARD, ':cutoff': cutoff },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const key = Object.fromEntries(keyNames.map((k) => [k, String(item[k])]));
        const ok = await this.flush({
          table,
          key,
          events: (item.pendingEvents ?? []) as PendingEvent[],
          revision: Number(item.revision),
          tombstone: item.tombstone === true,
        });
        if (ok) published += 1;
        else failed += 1;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { published, failed };
  }
}
