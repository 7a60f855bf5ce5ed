/**
 * A rate limit shared by every concurrent invocation, kept in one DynamoDB item and changed only by
 * single-item conditional updates (dynalite has no transactions; one item is atomic in DynamoDB).
 *
 * Role: it only PACES. What bounds how many issuers run at once is the queue in front of the
 * issuer (serverless.yml: SvidRequested → SQS → the issuer, with the event source's
 * `maximumConcurrency`), the usual AWS way to smooth calls to a rate-limited API. Concurrency alone
 * is not a rate (a fast issuer with 2 consumers can still exceed 25/s), so the slots below still
 * space the calls; with bounded consumers the schedule never holds more than a few slots.
 *
 * Algorithm: a scheduler of call slots (the "virtual scheduling" form of the generic cell rate
 * algorithm). The item holds `nextAt`, the earliest time the next call may start. Acquiring
 * reserves the slot `max(now, nextAt)` and moves `nextAt` one spacing further. Slots are therefore
 * at least `spacingMs` apart.
 *
 * Contention cannot fail a caller: a reservation is at most two conditional updates that use the
 * same `now`. The first (`nextAt <= now`: idle, the slot is now) and the second (`nextAt > now`:
 * queued, the slot is `nextAt`) cannot both be false, because `nextAt` only ever grows: if the
 * first failed, `nextAt > now` held then and still holds. The second update carries one more
 * condition, `nextAt <= now + budget`, so when it fails the backlog is longer than the caller may
 * wait — the one outcome that is not a slot, reported as RateLimitBacklog (the caller retries
 * later; nothing is reserved). There is no cap on rounds: a caller keeps its turn until its own
 * deadline (an earlier version gave up after 20 rounds and failed requests under load).
 *
 * The spacing is (1000 + jitterAllowanceMs) / ratePerSecond rather than 1000 / rate: a call leaves
 * a little after its slot (timer lateness, network, Lambda clock skew), and two calls that leave
 * with different lateness could otherwise land rate+1 calls inside one second at the CA. The
 * allowance (default 100 ms) trades about 10% of throughput for a limit that holds as the CA
 * measures it; a caller later than a quarter of the allowance for its slot does not use it (see
 * acquire) and reserves a new one, which leaves the rest for what happens between the slot and the
 * call reaching the CA.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
    super(`the IssueCertificate rate limit has a backlog longer than the ${Math.round(waitMs)} ms this invocation could still wait; the request is retried later`);
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
    for (;;) {
      const now = this.now();
      // Wait-free: when the idle update fails, the queued one can fail only on the budget (see above).
      const slot = (await this.takeIdleSlot(now)) ?? (await this.takeQueuedSlot(now, Math.max(0, deadline - now)));
      if (slot === undefined) throw new RateLimitBacklog(Math.max(0, deadline - now));
      await this.sleep(slot - this.now());
      // A slot is only good on time: a caller that wakes up (or got its answer) late would call
      // close to the next slot's caller. Late by more than the tolerance, it lets the slot go
      // unused (that only costs throughput) and reserves again, for as long as its budget lasts.
      if (this.now() - slot <= this.lateToleranceMs) return slot;
      if (this.now() >= deadline) throw new RateLimitBacklog(0);
    }
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
}
