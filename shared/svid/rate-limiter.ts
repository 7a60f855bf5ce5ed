/**
 * A rate limit shared by every concurrent invocation, kept in one DynamoDB item and changed only by
 * single-item conditional updates (dynalite has no transactions; one item is atomic in DynamoDB).
 *
 * Why this mechanism: EventBridge may start any number of issuer
 * invocations at once, so the limit must live outside the function. The alternatives were
 * - an SQS queue with bounded consumer concurrency between the rule and the issuer: bounds
 *   concurrency, not calls per second (a fast issuer with 2 consumers can still exceed 25/s), adds a
 *   queue, a mapping and a second DLQ, and has no local equivalent in the stand-ins;
 * - Lambda reserved concurrency: the same "concurrency is not a rate" problem, and throttled
 *   asynchronous invocations are retried by Lambda for hours, outside the issuer's control;
 * - an in-memory limiter: holds per process only (serverless offline and Lambda run many).
 * A DynamoDB item works identically locally (dynalite) and in AWS and states the limit directly in
 * calls per second.
 *
 * Algorithm: a scheduler of call slots (the "virtual scheduling" form of the generic cell rate
 * algorithm). The item holds `nextAt`, the earliest time the next call may start. Acquiring
 * reserves the slot `max(now, nextAt)` and moves `nextAt` one spacing further with one conditional
 * update — no read-modify-write loop, so a burst of N callers costs about N writes, not N². The
 * caller then sleeps until its slot. Slots are therefore at least `spacingMs` apart.
 *
 * The spacing is (1000 + jitterAllowanceMs) / ratePerSecond rather than 1000 / rate: a call leaves
 * a little after its slot (timer lateness, network, Lambda clock skew), and two calls that leave
 * with different lateness could otherwise land rate+1 calls inside one second at the CA. The
 * allowance (default 100 ms) trades about 10% of throughput for a limit that holds as the CA
 * measures it; a caller later than a quarter of the allowance for its slot does not use it (see acquire),
 * which leaves the rest for what happens between the slot and the call reaching the CA.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sleep as realSleep } from './backoff';

export interface RateLimiter {
  /**
   * Waits for the next call slot and resolves with its time (epoch ms). Throws RateLimitBacklog,
   * without reserving anything, when the slot would be more than `maxWaitMs` away.
   */
  acquire(maxWaitMs: number): Promise<number>;
}

export class RateLimitBacklog extends Error {
  constructor(readonly waitMs: number) {
    super(`the IssueCertificate rate limit has a backlog of ${Math.round(waitMs)} ms, more than this invocation can wait`);
    this.name = 'RateLimitBacklog';
  }
}

export interface RateLimiterOptions {
  ratePerSecond: number;
  jitterAllowanceMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_JITTER_ALLOWANCE_MS = 100;
const MAX_ROUNDS = 20;

/** Time between two slots for a rate, allowance included. */
export function slotSpacingMs(ratePerSecond: number, jitterAllowanceMs = DEFAULT_JITTER_ALLOWANCE_MS): number {
  if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be above 0');
  return (1000 + jitterAllowanceMs) / ratePerSecond;
}

export class DynamoRateLimiter implements RateLimiter {
  private readonly spacingMs: number;
  private readonly lateToleranceMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly limiterId: string,
    options: RateLimiterOptions,
  ) {
    this.spacingMs = slotSpacingMs(options.ratePerSecond, options.jitterAllowanceMs);
    this.lateToleranceMs = (options.jitterAllowanceMs ?? DEFAULT_JITTER_ALLOWANCE_MS) / 4;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  async acquire(maxWaitMs: number): Promise<number> {
    const deadline = this.now() + maxWaitMs;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const now = this.now();
      const slot = (await this.takeIdleSlot(now)) ?? (await this.takeQueuedSlot(now, deadline - now));
      if (slot !== undefined) {
        await this.sleep(slot - this.now());
        // A slot is only good on time: a caller that wakes up (or got its answer) late would call
        // close to the next slot's caller. Late by more than the tolerance, it lets the slot go
        // unused (that only costs throughput) and takes a new one.
        if (this.now() - slot <= this.lateToleranceMs) return slot;
        continue;
      }
      // Neither condition held: the backlog is too long, or `nextAt` moved between the two
      // updates (it just passed `now`). Read it to tell which.
      const nextAt = await this.readNextAt();
      if (nextAt !== undefined && nextAt > deadline) throw new RateLimitBacklog(nextAt - this.now());
    }
    throw new Error(`rate limiter ${this.limiterId}: no timely slot after ${MAX_ROUNDS} rounds (contention or a stalled process)`);
  }

  /** Nobody is queued (`nextAt` passed): the slot is now. */
  private async takeIdleSlot(now: number): Promise<number | undefined> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { limiterId: this.limiterId },
          UpdateExpression: 'SET nextAt = :next',
          ConditionExpression: 'attribute_not_exists(nextAt) OR nextAt <= :now',
          ExpressionAttributeValues: { ':next': now + this.spacingMs, ':now': now },
        }),
      );
      return now;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Callers are queued: take the slot at `nextAt` if it is within `maxWaitMs`. */
  private async takeQueuedSlot(now: number, maxWaitMs: number): Promise<number | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { limiterId: this.limiterId },
          UpdateExpression: 'SET nextAt = nextAt + :spacing',
          ConditionExpression: 'nextAt > :now AND nextAt <= :latest',
          ExpressionAttributeValues: { ':spacing': this.spacingMs, ':now': now, ':latest': now + maxWaitMs },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      return Number(out.Attributes?.nextAt);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  private async readNextAt(): Promise<number | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: { limiterId: this.limiterId }, ConsistentRead: true }));
    return out.Item?.nextAt === undefined ? undefined : Number(out.Item.nextAt);
  }
}
