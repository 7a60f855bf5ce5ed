/**
 * DynamoDB adapter for grants: single-item conditional writes only (dynalite has no transactions).
 *
 * Key design: partition key `service`, sort key `id`. The policy sync must read the CURRENT grants
 * of one service, and only a base-table Query can be strongly consistent (a GSI never is), so the
 * service is the partition key rather than a GSI. The grant id carries its service
 * (grantIdFor), so DELETE /grants/{id} is a consistent GetItem too. CallerIndex (caller, id)
 * serves "the grants of this caller" (GET /grants?caller=, workload deletion); OutboxIndex is the
 * outbox's.
 *
 * Deleting leaves a tombstone holding GrantChanged until the outbox publishes it; every read here
 * hides tombstones, and re-creating the same grant over a tombstone revives the item (keeping the
 * tombstone's unpublished event in the outbox list), so a quick delete-then-create is not a 409.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PendingEvent } from '../events/catalog';
import { APPEND_OUTBOX, appendOutboxValues } from '../outbox/outbox';
import type { Grant, GrantPage, GrantQuery, StoredGrant } from './model';

export const CALLER_INDEX = 'CallerIndex';

const LIVE = 'attribute_not_exists(#tombstone)';

export class GrantRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /**
   * Creates the grant with its events in its outbox. Returns the stored item, or undefined when a
   * live grant with this id (the same canonical grant) already exists.
   */
  async create(grant: Grant, events: PendingEvent[], now: Date): Promise<StoredGrant | undefined> {
    const sets = ['#caller = :caller', '#kind = :kind', '#createdAt = :createdAt', '#revision = if_not_exists(#revision, :zero) + :one', APPEND_OUTBOX];
    const values: Record<string, unknown> = {
      ':caller': grant.caller,
      ':kind': grant.kind,
      ':createdAt': grant.createdAt,
      ':zero': 0,
      ':one': 1,
      ':yes': true,
      ...appendOutboxValues(events, now),
    };
    // Allows are stored without the attribute, like every grant made before effects existed.
    if (grant.effect === 'Deny') {
      sets.push('#effect = :effect');
      values[':effect'] = grant.effect;
    }
    if (grant.methods !== undefined) {
      sets.push('#methods = :methods');
      values[':methods'] = grant.methods;
    }
    if (grant.pathPrefixes !== undefined) {
      sets.push('#pathPrefixes = :pathPrefixes');
      values[':pathPrefixes'] = grant.pathPrefixes;
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { service: grant.service, id: grant.id },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE #tombstone`,
          ConditionExpression: 'attribute_not_exists(#id) OR #tombstone = :yes',
          ExpressionAttributeNames: {
            '#id': 'id',
            '#caller': 'caller',
            '#tombstone': 'tombstone',
            '#kind': 'kind',
            '#createdAt': 'createdAt',
            '#revision': 'revision',
            ...(grant.effect === 'Deny' ? { '#effect': 'effect' } : {}),
            ...(grant.methods === undefined ? {} : { '#methods': 'methods' }),
            ...(grant.pathPrefixes === undefined ? {} : { '#pathPrefixes': 'pathPrefixes' }),
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredGrant;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async get(service: string, id: string): Promise<StoredGrant | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { service, id }, ConsistentRead: true }));
    const item = out.Item as StoredGrant | undefined;
    return item && !item.tombstone ? item : undefined;
  }

  /** Marks the grant deleted if it is still at `expectedRevision`; undefined when it changed or is gone. */
  async tombstone(grant: StoredGrant, events: PendingEvent[], now: Date): Promise<StoredGrant | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { service: grant.service, id: grant.id },
          UpdateExpression: `SET #tombstone = :yes, #revision = :next, ${APPEND_OUTBOX}`,
          ConditionExpression: `attribute_exists(#id) AND ${LIVE} AND #revision = :expected`,
          ExpressionAttributeNames: { '#id': 'id', '#tombstone': 'tombstone', '#revision': 'revision' },
          ExpressionAttributeValues: { ':yes': true, ':next': grant.revision + 1, ':expected': grant.revision, ...appendOutboxValues(events, now) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as StoredGrant;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Every live grant of a service, read with strong consistency (what the policy sync compiles). */
  async allOfService(service: string): Promise<StoredGrant[]> {
    const items: StoredGrant[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#service = :service',
          FilterExpression: LIVE,
          ExpressionAttributeNames: { '#service': 'service', '#tombstone': 'tombstone' },
          ExpressionAttributeValues: { ':service': service },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as StoredGrant[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** Every live grant whose caller is exactly `caller` (CallerIndex: eventually consistent). */
  async allOfCaller(caller: string): Promise<StoredGrant[]> {
    const items: StoredGrant[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.page({ caller }, 100, startKey);
      items.push(...page.items);
      startKey = page.lastKey;
    } while (startKey);
    return items;
  }

  /**
   * One page of grants: by service (base table, consistent), by caller (CallerIndex), by both
   * (the service's partition filtered on the caller), or all (scan). Pages may be short or empty
   * while a token remains: DynamoDB applies Limit before the filter.
   */
  async page(query: GrantQuery, limit: number, startKey: Record<string, unknown> | undefined): Promise<GrantPage> {
    if (query.service !== undefined) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#service = :service',
          FilterExpression: query.caller === undefined ? LIVE : `${LIVE} AND #caller = :caller`,
          ExpressionAttributeNames: { '#service': 'service', '#tombstone': 'tombstone', ...(query.caller === undefined ? {} : { '#caller': 'caller' }) },
          ExpressionAttributeValues: { ':service': query.service, ...(query.caller === undefined ? {} : { ':caller': query.caller }) },
          ConsistentRead: true,
          Limit: limit,
          ExclusiveStartKey: startKey,
        }),
      );
      return { items: (out.Items ?? []) as StoredGrant[], lastKey: out.LastEvaluatedKey };
    }
    if (query.caller !== undefined) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: CALLER_INDEX,
          KeyConditionExpression: '#caller = :caller',
          FilterExpression: LIVE,
          ExpressionAttributeNames: { '#caller': 'caller', '#tombstone': 'tombstone' },
          ExpressionAttributeValues: { ':caller': query.caller },
          Limit: limit,
          ExclusiveStartKey: startKey,
        }),
      );
      return { items: (out.Items ?? []) as StoredGrant[], lastKey: out.LastEvaluatedKey };
    }
    const out = await this.db.send(
      new ScanCommand({
        TableName: this.table,
        FilterExpression: LIVE,
        ExpressionAttributeNames: { '#tombstone': 'tombstone' },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: (out.Items ?? []) as StoredGrant[], lastKey: out.LastEvaluatedKey };
  }
}
