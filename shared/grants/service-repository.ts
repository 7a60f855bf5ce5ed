/**
 * DynamoDB adapter for managed services (key `name`). Each item is also the service's policy-sync
 * record (see shared/policy-sync/converge.ts):
 * - `desiredVersion`: bumped atomically (ADD) by every grant change of the service;
 * - `appliedVersion`, `appliedAt`, `appliedPolicySha256`, `appliedBytes`: what the last successful
 *   sync applied, written only when its version is not older than the one recorded;
 * - `lastSync`: the outcome of the last sync (failures included).
 * Registration writes (`arn`, `source`) use `revision` and the outbox; sync writes never touch
 * `revision`, so they cannot make an outbox flush's conditional clear fail.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PendingEvent } from '../events/catalog';
import { APPEND_OUTBOX, appendOutboxValues, outboxAttributes } from '../outbox/outbox';
import type { AppliedRecord, LastSync, ManagedService, StoredService } from './model';

const isConditionFailure = (error: unknown): boolean => error instanceof ConditionalCheckFailedException;

export class ServiceRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async get(name: string): Promise<StoredService | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { name }, ConsistentRead: true }));
    return out.Item as StoredService | undefined;
  }

  async page(limit: number, startKey: Record<string, unknown> | undefined): Promise<{ items: StoredService[]; lastKey?: Record<string, unknown> }> {
    const out = await this.db.send(new ScanCommand({ TableName: this.table, Limit: limit, ExclusiveStartKey: startKey }));
    return { items: (out.Items ?? []) as StoredService[], lastKey: out.LastEvaluatedKey };
  }

  async all(): Promise<StoredService[]> {
    const items: StoredService[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.page(500, startKey);
      items.push(...page.items);
      startKey = page.lastKey;
    } while (startKey);
    return items;
  }

  /** Creates the service with its events in its outbox; false when the name is taken. */
  async create(service: ManagedService, events: PendingEvent[], now: Date): Promise<StoredService | undefined> {
    const item: StoredService = { ...service, revision: 1, ...outboxAttributes(events, now) };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(#name)', ExpressionAttributeNames: { '#name': 'name' } }));
      return item;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Sets the ARN and source if the item is still at `expectedRevision`; undefined otherwise. */
  async update(name: string, expectedRevision: number, change: { arn: string; source: ManagedService['source'] }, events: PendingEvent[], now: Date): Promise<StoredService | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { name },
          UpdateExpression: `SET #arn = :arn, #source = :source, #updatedAt = :now, #revision = :next${events.length > 0 ? `, ${APPEND_OUTBOX}` : ''}`,
          ConditionExpression: 'attribute_exists(#name) AND #revision = :expected',
          ExpressionAttributeNames: { '#name': 'name', '#arn': 'arn', '#source': 'source', '#updatedAt': 'updatedAt', '#revision': 'revision' },
          ExpressionAttributeValues: {
            ':arn': change.arn,
            ':source': change.source,
            ':next': expectedRevision + 1,
            ':expected': expectedRevision,
            ...(events.length > 0 ? appendOutboxValues(events, now) : { ':now': now.toISOString() }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredService;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Records a grant-set replacement on the service before its grant writes: ADDs 1 to
   * desiredVersion and appends `events` (GrantSetReplaced) to the service's outbox, so a process
   * that dies during the grant writes still leaves the sync trigger for the outbox sweep.
   * Undefined when the service does not exist.
   */
  async recordGrantSet(name: string, events: PendingEvent[], now: Date): Promise<StoredService | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { name },
          UpdateExpression: `SET #revision = #revision + :one, ${APPEND_OUTBOX} ADD #desired :one`,
          ConditionExpression: 'attribute_exists(#name)',
          ExpressionAttributeNames: { '#name': 'name', '#desired': 'desiredVersion', '#revision': 'revision' },
          ExpressionAttributeValues: { ':one': 1, ...appendOutboxValues(events, now) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredService;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** ADDs 1 to desiredVersion; returns the new value, or undefined when the service does not exist. */
  async bumpDesiredVersion(name: string): Promise<number | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { name },
          UpdateExpression: 'ADD #desired :one',
          ConditionExpression: 'attribute_exists(#name)',
          ExpressionAttributeNames: { '#name': 'name', '#desired': 'desiredVersion' },
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes?.desiredVersion);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Records a successful sync unless a sync of a newer version already recorded one. Returns whether it wrote. */
  async recordApplied(name: string, record: AppliedRecord): Promise<boolean> {
    const lastSync: LastSync = { outcome: record.outcome, version: record.version, at: record.at };
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { name },
          UpdateExpression: 'SET #applied = :v, #appliedAt = :at, #sha = :sha, #bytes = :bytes, #lastSync = :lastSync',
          ConditionExpression: 'attribute_exists(#name) AND (attribute_not_exists(#applied) OR #applied <= :v)',
          ExpressionAttributeNames: {
            '#name': 'name',
            '#applied': 'appliedVersion',
            '#appliedAt': 'appliedAt',
            '#sha': 'appliedPolicySha256',
            '#bytes': 'appliedBytes',
            '#lastSync': 'lastSync',
          },
          ExpressionAttributeValues: { ':v': record.version, ':at': record.at, ':sha': record.policySha256, ':bytes': record.bytes, ':lastSync': lastSync },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Records a failed sync unless a newer version's outcome is already recorded. */
  async recordFailure(name: string, lastSync: LastSync): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { name },
          UpdateExpression: 'SET #lastSync = :lastSync',
          ConditionExpression: 'attribute_exists(#name) AND (attribute_not_exists(#applied) OR #applied <= :v)',
          ExpressionAttributeNames: { '#name': 'name', '#applied': 'appliedVersion', '#lastSync': 'lastSync' },
          ExpressionAttributeValues: { ':v': lastSync.version, ':lastSync': lastSync },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
