/**
 * The IssueCertificate slot scheduler (shared/svid/rate-limiter.ts) against dynalite, on fake
 * clocks: contention and late wake-ups never fail a caller (an earlier version gave up after 20
 * rounds, which dead-lettered SvidRequested under 20 concurrent issuers), and the slots it hands
 * out stay one spacing apart, which is the quota guarantee.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, type LocalDynamo } from '../../local/dynamodb';
import { loadServerlessConfig, tableDefinitions } from '../../local/serverless-config';
import { DynamoRateLimiter, RateLimitBacklog, slotSpacingMs } from '../../shared/svid/rate-limiter';
import { ROOT } from '../support/in-process-stack';

let dynamo: LocalDynamo;
let db: DynamoDBDocumentClient;
const TABLE = 'trellis-local-rate-limits';

beforeAll(async () => {
  process.env.TRELLIS_LOCAL_LATTICE_SERVICES ??= '';
  const config = loadServerlessConfig(join(ROOT, 'serverless.yml'), 'local');
  dynamo = await startDynalite({ tables: tableDefinitions(config).filter((t) => t.TableName === TABLE), region: config.region });
  db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamo.endpoint, region: config.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
});
afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
});

/** A fake clock whose sleeps may wake up late, as timers do on a loaded machine. */
function lateClock(start: number, lateness: (sleepNumber: number) => number) {
  let now = start;
  let sleeps = 0;
  return {
    now: () => now,
    sleep: async (ms: number): Promise<void> => {
      sleeps += 1;
      await Promise.resolve();
      now += Math.max(0, ms) + lateness(sleeps);
    },
  };
}

describe('the slot scheduler under contention', () => {
  it('a caller whose wake-ups are late many times in a row still gets a slot (no round cap), on time', async () => {
    // 30 late wake-ups (each 60 ms, beyond the 25 ms tolerance), then on time.
    const clock = lateClock(5_000_000, (n) => (n <= 30 ? 60 : 0));
    const limiter = new DynamoRateLimiter(db, TABLE, 'test:late', { ratePerSecond: 20, ...clock });
    const slot = await limiter.acquire(60_000);
    expect(clock.now() - slot).toBeLessThanOrEqual(25);
  });

  it('200 concurrent callers with random lateness all get slots, each at least one spacing from the next', async () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let now = 9_000_000;
    const limiter = new DynamoRateLimiter(db, TABLE, 'test:crowd', {
      ratePerSecond: 20,
      now: () => now,
      sleep: async (ms) => {
        await new Promise((r) => setImmediate(r));
        // Shared clock: moving it forward for one caller moves it for all, like real time.
        now = Math.max(now, now + ms * 0.01) + (random() < 0.3 ? 40 : 0);
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => limiter.acquire(10 * 60_000)));
    const failures = results.filter((r) => r.status === 'rejected');
    expect(failures).toEqual([]);
    const slots = results.map((r) => (r.status === 'fulfilled' ? r.value : NaN)).sort((a, b) => a - b);
    const spacing = slotSpacingMs(20);
    for (let i = 1; i < slots.length; i += 1) expect((slots[i] ?? 0) - (slots[i - 1] ?? 0)).toBeGreaterThanOrEqual(spacing - 1e-6);
  });

  it('a backlog longer than the budget is RateLimitBacklog, the only refusal, and reserves nothing', async () => {
    let now = 20_000_000;
    const limiter = new DynamoRateLimiter(db, TABLE, 'test:budget', { ratePerSecond: 1, jitterAllowanceMs: 0, now: () => now, sleep: async () => {} });
    expect(await limiter.acquire(0)).toBe(20_000_000);
    await expect(limiter.acquire(500)).rejects.toBeInstanceOf(RateLimitBacklog);
    expect(await limiter.acquire(1_000)).toBe(20_001_000);
    now = 20_010_000;
    expect(await limiter.acquire(0)).toBe(20_010_000);
  });
});
