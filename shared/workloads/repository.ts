/** DynamoDB adapter for registration entries: single-item conditional writes only. */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PendingEvent } from '../events/catalog';
import { APPEND_OUTBOX, appendOutboxValues, outboxAttributes } from '../outbox/outbox';
import type { StoredWorkload, Workload } from './model';


export class WorkloadConflict extends Error {}

export class WorkloadRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** Creates the entry with its events in its outbox; WorkloadConflict if the id is taken (even by a tombstone). */
  async create(workload: Workload, extra: { csr?: string }, events: PendingEvent[], now: Date): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...workload, ...extra, ...outboxAttributes(events, now) },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new WorkloadConflict();
      throw error;
    }
  }

  async get(id: string): Promise<StoredWorkload | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    const item = out.Item as StoredWorkload | undefined;
    return item && !item.tombstone ? item : undefined;
  }

  async list(limit: number, startKey: Record<string, unknown> | undefined): Promise<{ items: StoredWorkload[]; lastKey?: Record<string, unknown> }> {
    const out = await this.db.send(
      new ScanCommand({
        TableName: this.table,
        Limit: limit,
        ExclusiveStartKey: startKey,
        FilterExpression: 'attribute_not_exists(tombstone)',
      }),
    );
    return { items: (out.Items ?? []) as StoredWorkload[], lastKey: out.LastEvaluatedKey };
  }

  /**
   * Replaces the mutable fields if the stored revision is `expectedRevision`. Returns the new
   * item, or undefined when the entry is missing or the revision differs (the caller tells which).
   */
  async update(
    id: string,
    expectedRevision: number,
    changes: Pick<Workload, 'selectors' | 'x509SvidTtlSeconds' | 'dnsNames' | 'updatedAt'>,
    events: (next: number) => PendingEvent[],
    now: Date,
  ): Promise<StoredWorkload | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id },
          UpdateExpression: `SET selectors = :selectors, x509SvidTtlSeconds = :ttl, dnsNames = :dns, updatedAt = :updatedAt, revision = :next, ${APPEND_OUTBOX}`,
          ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(tombstone) AND revision = :expected',
          ExpressionAttributeValues: {
            ':selectors': changes.selectors,
            ':ttl': changes.x509SvidTtlSeconds,
            ':dns': changes.dnsNames,
            ':updatedAt': changes.updatedAt,
            ':next': expectedRevision + 1,
            ':expected': expectedRevision,
            ...appendOutboxValues(events(expectedRevision + 1), now),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredWorkload;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Marks the entry deleted (a tombstone holding the WorkloadDeleted event until it is published). */
  async tombstone(id: string, expectedRevision: number, events: PendingEvent[], now: Date): Promise<StoredWorkload | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id },
          UpdateExpression: `SET tombstone = :yes, revision = :next, ${APPEND_OUTBOX}`,
          ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(tombstone) AND revision = :expected',
          ExpressionAttributeValues: { ':yes': true, ':next': expectedRevision + 1, ':expected': expectedRevision, ...appendOutboxValues(events, now) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredWorkload;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
