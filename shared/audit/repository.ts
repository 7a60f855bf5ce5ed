/**
 * The audit table: one item per event id, written once (a redelivered event finds its item and is
 * not recorded, or counted, again), kept for RETENTION_SECONDS (the table's TTL).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuditEntry } from './model';

export const RETENTION_SECONDS = 30 * 24 * 3600;

export class AuditRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Records the event; false when its id was already recorded (an at-least-once redelivery). */
  async record(entry: AuditEntry, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...entry, expiresAt: Math.floor(now.getTime() / 1000) + RETENTION_SECONDS },
          ConditionExpression: 'attribute_not_exists(eventId)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Every entry whose time is at or after `since` (a Scan: the table holds at most the retention period). */
  async since(since: Date): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: '#time >= :since',
          ExpressionAttributeNames: { '#time': 'time' },
          ExpressionAttributeValues: { ':since': since.toISOString() },
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of page.Items ?? []) entries.push({ eventId: String(item.eventId), detailType: String(item.detailType), time: String(item.time), detail: (item.detail ?? {}) as Record<string, unknown> });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }
}
