/**
 * Exponential backoff with jitter ("equal jitter": half the capped exponential delay plus a random
 * part of the other half), so that concurrent issuers that were throttled together do not retry
 * together, and every wait stays bounded by `capMs`.
 */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  baseMs: number;
  /** No single delay exceeds this. */
  capMs: number;
}

/** Delay before retry number `retry` (0 = the first retry). */
export function backoffDelayMs(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
