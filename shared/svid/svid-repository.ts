/**
 * DynamoDB adapter for SVID state: one item per workload in its own table (keyed `workloadId`), so
 * issuance never contends with the registration entry's If-Match revision. Single-item conditional
 * writes only; the writes that emit events carry them in the item's outbox (shared/outbox).
 *
 * Item life: a request makes the item `pending`; the issuer then claims an in-flight window
 * (`inFlight`), records the certificate ARN and serial as soon as IssueCertificate answers (so a
 * redelivery resumes instead of issuing again, and deletion can revoke it), and finally stores the
 * SVID (`issued`) or the failure (`failed`). `serials` lists every certificate ever issued for the
 * workload; deletion sets `deletedAt` and revokes them. A workload registered again later with the
 * same SPIFFE ID has the same id: writes for it treat an item deleted before its `createdAt` as a
 * fresh one.
 *
 * `dueShard`/`dueAt` (index DueIndex) say when the renewer must look at the item next: the
 * half-life of the SVID, or the deadline of a pending request.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PendingEvent } from '../events/catalog';
import { APPEND_OUTBOX, appendOutboxValues } from '../outbox/outbox';
import type { InFlight, IssuedSvid, SvidFailure, SvidRequestRecord, SvidState, WorkloadRef } from './model';

export const DUE_INDEX = 'DueIndex';
export const DUE_SHARD = 'due';

/** Attribute names that are DynamoDB reserved words, written `#name` in expressions. */
const RESERVED = { '#status': 'status', '#request': 'request' } as const;
const NOT_DELETED_FOR = '(attribute_not_exists(deletedAt) OR deletedAt < :createdAt)';

const isConditionFailure = (error: unknown): boolean => error instanceof ConditionalCheckFailedException;

export class SvidRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async get(workloadId: string): Promise<SvidState | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { workloadId }, ConsistentRead: true }));
    return out.Item as SvidState | undefined;
  }

  private async update(input: {
    workloadId: string;
    set: string[];
    remove?: string[];
    add?: string[];
    condition: string;
    values: Record<string, unknown>;
  }): Promise<SvidState | undefined> {
    const expression = [
      ...(input.set.length > 0 ? [`SET ${input.set.join(', ')}`] : []),
      ...(input.remove && input.remove.length > 0 ? [`REMOVE ${input.remove.join(', ')}`] : []),
      ...(input.add && input.add.length > 0 ? [`ADD ${input.add.join(', ')}`] : []),
    ].join(' ');
    const used = new Set(`${expression} ${input.condition}`.match(/#\w+/g) ?? []);
    const names = Object.fromEntries(Object.entries(RESERVED).filter(([placeholder]) => used.has(placeholder)));
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { workloadId: input.workloadId },
          UpdateExpression: expression,
          ConditionExpression: input.condition,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: input.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as SvidState;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** SET fragments that append events and bump the revision the outbox flush conditions on. */
  private static withEvents(events: PendingEvent[], now: Date): { set: string[]; values: Record<string, unknown> } {
    if (events.length === 0) return { set: ['revision = if_not_exists(revision, :zero)'], values: { ':zero': 0 } };
    return {
      set: ['revision = if_not_exists(revision, :zero) + :one', APPEND_OUTBOX],
      values: { ':zero': 0, ':one': 1, ...appendOutboxValues(events, now) },
    };
  }

  /**
   * Makes `request` the workload's current request (status pending). `onlyIfOlderThan`: keep a
   * request that is newer than this one (an old registration request arriving late), unless it
   * belongs to a deleted incarnation of the workload (deletedAt, which the first condition already
   * placed before this incarnation's registration). Returns the
   * new item, or undefined when the condition did not hold (the workload was deleted after its
   * registration, or a newer request is there).
   */
  async recordRequest(
    workload: WorkloadRef,
    request: SvidRequestRecord,
    deadline: Date,
    events: PendingEvent[],
    now: Date,
    options: { onlyIfOlderThan?: string } = {},
  ): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    const olderCondition = options.onlyIfOlderThan === undefined ? '' : ' AND (attribute_not_exists(#request) OR #request.requestedAt < :requestedAt OR attribute_exists(deletedAt))';
    return this.update({
      workloadId: workload.id,
      set: ['spiffeId = :spiffeId', 'workloadCreatedAt = :createdAt', '#request = :request', '#status = :pending', 'dueShard = :dueShard', 'dueAt = :dueAt', ...outbox.set],
      remove: ['inFlight', 'failure', 'deletedAt', 'expiresAt'],
      condition: `${NOT_DELETED_FOR}${olderCondition}`,
      values: {
        ':spiffeId': workload.spiffeId,
        ':createdAt': workload.createdAt,
        ':request': request,
        ':pending': 'pending',
        ':dueShard': DUE_SHARD,
        ':dueAt': deadline.toISOString(),
        ...(options.onlyIfOlderThan === undefined ? {} : { ':requestedAt': options.onlyIfOlderThan }),
        ...outbox.values,
      },
    });
  }

  /** A renewal of the SVID with this serial, unless a request is already pending. */
  async recordRenewal(workloadId: string, currentSerial: string, request: SvidRequestRecord, deadline: Date, events: PendingEvent[], now: Date): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    return this.update({
      workloadId,
      set: ['#request = :request', '#status = :pending', 'dueShard = :dueShard', 'dueAt = :dueAt', ...outbox.set],
      remove: ['inFlight', 'failure'],
      condition: 'svid.serialNumber = :serial AND #status <> :pending AND attribute_not_exists(deletedAt)',
      values: { ':request': request, ':pending': 'pending', ':serial': currentSerial, ':dueShard': DUE_SHARD, ':dueAt': deadline.toISOString(), ...outbox.values },
    });
  }

  /**
   * Claims the validity window of a pending request: keeps the one a concurrent or earlier delivery
   * of the same request set (same window → same IdempotencyToken → one certificate), unless
   * `replaceStartedBefore` says it is too old to reuse.
   */
  async claimInFlight(workloadId: string, inFlight: InFlight, options: { replaceStartedBefore?: string } = {}): Promise<SvidState | undefined> {
    const replace = options.replaceStartedBefore !== undefined;
    return this.update({
      workloadId,
      set: [replace ? 'inFlight = :inFlight' : 'inFlight = if_not_exists(inFlight, :inFlight)'],
      condition: `#request.requestId = :rid AND #status = :pending AND attribute_not_exists(deletedAt)${replace ? ' AND inFlight.startedAt < :before AND attribute_not_exists(inFlight.certificateArn)' : ''}`,
      values: { ':inFlight': inFlight, ':rid': inFlight.requestId, ':pending': 'pending', ...(replace ? { ':before': options.replaceStartedBefore } : {}) },
    });
  }

  /** Records what IssueCertificate answered, before waiting for the certificate. */
  async recordCertificateArn(workloadId: string, requestId: string, certificateArn: string, serialHex: string | undefined): Promise<SvidState | undefined> {
    return this.update({
      workloadId,
      set: ['inFlight.certificateArn = :arn'],
      add: serialHex === undefined ? [] : ['serials :serials'],
      condition: '#request.requestId = :rid AND inFlight.requestId = :rid AND attribute_not_exists(deletedAt)',
      values: { ':arn': certificateArn, ':rid': requestId, ...(serialHex === undefined ? {} : { ':serials': new Set([serialHex]) }) },
    });
  }

  async storeIssued(workloadId: string, svid: IssuedSvid, renewAt: Date, events: PendingEvent[], now: Date): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    return this.update({
      workloadId,
      set: ['svid = :svid', '#status = :issued', 'dueShard = :dueShard', 'dueAt = :dueAt', ...outbox.set],
      remove: ['inFlight', 'failure'],
      add: ['serials :serials'],
      condition: '#request.requestId = :rid AND #status = :pending AND attribute_not_exists(deletedAt)',
      values: {
        ':svid': svid,
        ':issued': 'issued',
        ':pending': 'pending',
        ':rid': svid.requestId,
        ':serials': new Set([svid.serialNumber]),
        ':dueShard': DUE_SHARD,
        ':dueAt': renewAt.toISOString(),
        ...outbox.values,
      },
    });
  }

  /** Ends a pending request as failed. `nextDueAt`: when the renewer should look again (only when an SVID remains). */
  async storeFailed(workloadId: string, failure: SvidFailure, nextDueAt: Date | undefined, events: PendingEvent[], now: Date): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    const due = nextDueAt === undefined ? {} : { ':dueShard': DUE_SHARD, ':dueAt': nextDueAt.toISOString() };
    return this.update({
      workloadId,
      set: ['failure = :failure', '#status = :failed', ...(nextDueAt === undefined ? [] : ['dueShard = :dueShard', 'dueAt = :dueAt']), ...outbox.set],
      remove: ['inFlight', ...(nextDueAt === undefined ? ['dueShard', 'dueAt'] : [])],
      condition: '#request.requestId = :rid AND #status = :pending',
      values: { ':failure': failure, ':failed': 'failed', ':pending': 'pending', ':rid': failure.requestId, ...due, ...outbox.values },
    });
  }

  /** Moves the renewer's next look at an item (nothing to do at the previous time). */
  async reschedule(workloadId: string, expectedDueAt: string, nextDueAt: Date | undefined): Promise<void> {
    await this.update({
      workloadId,
      set: nextDueAt === undefined ? [] : ['dueAt = :next'],
      remove: nextDueAt === undefined ? ['dueShard', 'dueAt'] : [],
      condition: 'dueAt = :expected',
      values: { ':expected': expectedDueAt, ...(nextDueAt === undefined ? {} : { ':next': nextDueAt.toISOString() }) },
    });
  }

  /**
   * Marks the workload deleted at `deletedAt` (creating the item if it has none, so an issuer still
   * running cannot store a certificate afterwards) and drops the SVID itself; the serials stay for
   * revocation. Undefined when a later deletion is already recorded, or the workload was registered
   * again after `deletedAt`.
   */
  async markDeleted(workloadId: string, spiffeId: string, deletedAt: string, expiresAt: number): Promise<SvidState | undefined> {
    return this.update({
      workloadId,
      set: ['deletedAt = :at', 'spiffeId = if_not_exists(spiffeId, :spiffeId)', 'expiresAt = :expiresAt', 'revision = if_not_exists(revision, :zero)'],
      remove: ['svid', 'inFlight', 'dueShard', 'dueAt'],
      // A late or repeated deletion of an earlier incarnation must not touch a workload registered
      // again (same SPIFFE ID, same id) after it.
      condition: '(attribute_not_exists(deletedAt) OR deletedAt <= :at) AND (attribute_not_exists(workloadCreatedAt) OR workloadCreatedAt <= :at)',
      values: { ':at': deletedAt, ':spiffeId': spiffeId, ':expiresAt': expiresAt, ':zero': 0 },
    });
  }

  /** Records revoked serials with their SvidRevoked events. Undefined when the item is no longer this deletion's. */
  async recordRevoked(workloadId: string, deletedAt: string, serials: string[], events: PendingEvent[], now: Date): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    return this.update({
      workloadId,
      set: outbox.set,
      add: ['revokedSerials :serials'],
      condition: 'deletedAt = :at',
      values: { ':at': deletedAt, ':serials': new Set(serials), ...outbox.values },
    });
  }

  /**
   * Records the revocation of the workload's CURRENT SVID (serial `serial`): the SVID is dropped
   * (no renewal of a revoked certificate; GET shows the revocation as the request's failure), the
   * serial joins revokedSerials, the events go to the outbox. Undefined when the item no longer
   * holds that SVID (renewed or deleted meanwhile).
   */
  async recordCurrentRevoked(workloadId: string, serial: string, failure: SvidFailure, events: PendingEvent[], now: Date): Promise<SvidState | undefined> {
    const outbox = SvidRepository.withEvents(events, now);
    return this.update({
      workloadId,
      set: ['#status = :failed', 'failure = :failure', ...outbox.set],
      remove: ['svid', 'dueShard', 'dueAt'],
      add: ['revokedSerials :serials'],
      condition: 'svid.serialNumber = :serial',
      values: { ':failed': 'failed', ':failure': failure, ':serial': serial, ':serials': new Set([serial]), ...outbox.values },
    });
  }

  /** Keys of the items due for the renewer at `now`, a page at a time. */
  async due(now: Date, startKey?: Record<string, unknown>): Promise<{ items: { workloadId: string; dueAt: string }[]; lastKey?: Record<string, unknown> }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: DUE_INDEX,
        KeyConditionExpression: 'dueShard = :shard AND dueAt <= :now',
        ExpressionAttributeValues: { ':shard': DUE_SHARD, ':now': now.toISOString() },
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: (out.Items ?? []) as { workloadId: string; dueAt: string }[], lastKey: out.LastEvaluatedKey };
  }
}
