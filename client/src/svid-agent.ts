/**
 * The SVID agent: a workload's X.509-SVID fetched into an SVID directory and kept fresh.
 *
 * Each fetch makes a NEW EC P-256 key here (it never leaves the machine), submits its CSR
 * (POST /workloads/{id}/csr), waits for the SVID (GET …/svid answers 404 SvidPending with
 * Retry-After while the CA issues) and writes the files with writeSvidFiles: the previous set stays
 * in place until a complete new one exists. Watch mode renews at a fraction of the lifetime (half
 * by default, with jitter, as SPIRE agents do) and retries failures with capped jittered backoff.
 *
 * Time, sleeping and randomness are injected so the schedule can be tested on a fake clock.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CsrAccepted, SvidState } from './api-client';
import { ApiError } from './api-client';
import { WorkloadEdgeError } from './edge-error';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from './keys';
import { BUNDLE_FILE, SVID_FILE, SVID_KEY_FILE, writeSvidFiles, type SvidFiles } from './svid-files';
import { X509Certificate } from './x509';

/** The clock the agent runs on: the system's, or a fake one in tests. */
export interface AgentClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: AgentClock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    if (signal?.aborted) return;
    try {
      await delay(ms, undefined, signal === undefined ? {} : { signal });
    } catch {
      // aborted: the caller checks the signal
    }
  },
};

/** The three API calls the agent makes (TrellisApi has them; tests pass a fake). */
export interface SvidAgentApi {
  findWorkload(spiffeId: string): Promise<{ id: string; spiffeId: string }>;
  submitCsr(workloadId: string, csr: string): Promise<CsrAccepted>;
  getSvid(workloadId: string): Promise<SvidState>;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Polling for an SVID being issued: quick at first (local issuance takes about a second). */
export const POLL_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 5_000 };
/** Retrying a failed rotation: the current SVID is still valid, so no need to hammer the API. */
export const RETRY_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };
/** Renewal lands within ±this fraction of the target point (spreads a fleet's renewals). */
export const DEFAULT_ROTATION_JITTER = 0.1;

/**
 * Capped exponential backoff with "equal jitter": half the step fixed, half random, so retries
 * of many agents spread out but never collapse to zero. Hand-written because it is three lines and
 * must run on the injected random source.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt));
  return Math.round(step / 2 + (step / 2) * random());
}

/** How long to wait before polling again: the backoff, but never sooner than the server's Retry-After. */
export function pollDelayMs(attempt: number, retryAfterSeconds: number | undefined, policy: BackoffPolicy, random: () => number): number {
  return Math.max(retryAfterSeconds === undefined ? 0 : retryAfterSeconds * 1000, backoffDelayMs(attempt, policy, random));
}

/**
 * When to renew an SVID valid from notBefore to notAfter: at `fraction` of its lifetime, moved by
 * up to ±`jitter`·fraction·lifetime at random, never earlier than now and never later than a
 * safety margin before expiry (10% of the lifetime, at most a minute), so a slow renewal still
 * lands before the old SVID expires. Returns the epoch milliseconds.
 */
export function rotationTimeMs(input: { notBeforeMs: number; notAfterMs: number; nowMs: number; fraction: number; jitter?: number; random: () => number }): number {
  const lifetime = Math.max(0, input.notAfterMs - input.notBeforeMs);
  const jitter = input.jitter ?? DEFAULT_ROTATION_JITTER;
  const target = input.notBeforeMs + lifetime * input.fraction * (1 + jitter * (2 * input.random() - 1));
  const latest = input.notAfterMs - Math.min(lifetime * 0.1, 60_000);
  return Math.round(Math.max(input.nowMs, Math.min(target, latest)));
}

/** What a fetch wrote. */
export interface FetchedSvid {
  spiffeId: string;
  workloadId: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  dir: string;
  files: { svid: string; key: string; bundle: string };
}

export interface FetchSvidOptions {
  api: SvidAgentApi;
  spiffeId: string;
  /** The SVID directory (created if missing). */
  dir: string;
  clock?: AgentClock;
  random?: () => number;
  /** Give up waiting for issuance after this long (default 60 s). */
  timeoutMs?: number;
  pollBackoff?: BackoffPolicy;
  /** Aborting stops the wait; the files are left as they were. */
  signal?: AbortSignal;
  /** The workload's entry, when already known (a rotation reuses the first fetch's): saves a lookup. */
  workload?: { id: string; spiffeId: string };
  /** Writes the files (default writeSvidFiles: atomic per file, key first). */
  write?: (dir: string, files: SvidFiles) => Promise<void>;
  /** Progress, e.g. "pending". */
  onProgress?: (message: string) => void;
}

/** The agent was stopped (SIGTERM) before the fetch completed; nothing was written. */
export class AgentStopped extends Error {
  constructor() {
    super('stopped before the SVID was written');
    this.name = 'AgentStopped';
  }
}

const bytesEqual = (a: ArrayBuffer, b: ArrayBuffer): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The PEM blocks joined, one newline between them and one at the end. */
function joinPem(...blocks: string[]): string {
  return `${blocks.map((b) => b.trim()).filter((b) => b !== '').join('\n')}\n`;
}

/**
 * One fetch: a new key and CSR, the SVID for it, the files written. Resolves only once all three
 * files are in place; throws (files untouched) on refusal, issuance failure, timeout or stop.
 */
export async function fetchSvid(options: FetchSvidOptions): Promise<FetchedSvid> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const write = options.write ?? writeSvidFiles;
  const stopped = (): boolean => options.signal?.aborted === true;

  const keys = await generateKeyPair('P-256', { extractable: true });
  const publicKey = await crypto.subtle.exportKey('spki', keys.publicKey);
  const csr = await createCsr({ keys, spiffeId: options.spiffeId });
  const workload = options.workload ?? (await options.api.findWorkload(options.spiffeId));
  if (stopped()) throw new AgentStopped();
  const accepted = await options.api.submitCsr(workload.id, csr);

  const started = clock.now();
  for (let attempt = 0; ; attempt += 1) {
    if (stopped()) throw new AgentStopped();
    const state = await options.api.getSvid(workload.id);
    let retryAfter: number | undefined;
    if (state.kind === 'issued') {
      const { svid } = state;
      const certificate = new X509Certificate(svid.certificatePem);
      // The SVID shown may still be the previous one (our request pending), or a server-side renewal of
      // our CSR; it is ours exactly when it certifies our public key.
      if (bytesEqual(certificate.publicKey.rawData, publicKey)) {
        const files: SvidFiles = {
          certificatePem: joinPem(svid.certificatePem, svid.chainPem),
          keyPem: await exportPrivateKeyPem(keys.privateKey),
          bundlePem: joinPem(svid.trustBundlePem),
        };
        await write(options.dir, files);
        return {
          spiffeId: workload.spiffeId,
          workloadId: workload.id,
          serialNumber: svid.serialNumber,
          notBefore: svid.notBefore,
          notAfter: svid.notAfter,
          dir: options.dir,
          files: { svid: `${options.dir}/${SVID_FILE}`, key: `${options.dir}/${SVID_KEY_FILE}`, bundle: `${options.dir}/${BUNDLE_FILE}` },
        };
      }
      const latest = svid.latestRequest;
      if (latest.requestId === accepted.requestId && latest.status === 'failed') {
        const failure = latest.failure ?? { reason: 'unknown', message: 'no reason was recorded' };
        throw new ApiError(409, 'SvidIssuanceFailed', `request ${latest.requestId} for ${workload.spiffeId} failed (${failure.reason}): ${failure.message}`, {
          details: [{ field: 'csr', rule: failure.reason, message: failure.message }],
          fix: 'the CA refused the request; fix the registration (e.g. dnsNames) and fetch again',
        });
      }
    } else {
      retryAfter = state.retryAfterSeconds;
    }
    const wait = pollDelayMs(attempt, retryAfter, options.pollBackoff ?? POLL_BACKOFF, random);
    const elapsed = clock.now() - started;
    if (elapsed + wait > timeoutMs) {
      throw new WorkloadEdgeError(
        'SvidTimeout',
        `the SVID of ${options.spiffeId} was not issued within ${Math.round(timeoutMs / 1000)} s (request ${accepted.requestId})`,
        'the issuer may be slow or failing: check `GET /workloads/{id}/svid` and the function logs (.trellis/logs/functions.log locally), or raise --timeout',
      );
    }
    options.onProgress?.(`waiting for the SVID of ${options.spiffeId} (request ${accepted.requestId}), next check in ${wait} ms`);
    await clock.sleep(wait, options.signal);
  }
}

/** A refusal that retrying cannot fix (the request itself is wrong), as opposed to a transient failure. */
export function isPermanentFailure(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
  if (error instanceof WorkloadEdgeError) return error.code !== 'ApiUnreachable' && error.code !== 'SvidTimeout';
  return false;
}

/**
 * One fetch that rides out transient failures (a 5xx such as a Lambda cold start timing out, the
 * API unreachable for a moment) with capped jittered backoff, all within `timeoutMs`. A permanent
 * refusal (not registered, forbidden, issuance failed) fails at once.
 */
export async function fetchSvidWithRetry(options: FetchSvidOptions & { retryBackoff?: BackoffPolicy; onRetry?: (error: unknown, delayMs: number) => void }): Promise<FetchedSvid> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = clock.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fetchSvid({ ...options, clock, random, timeoutMs: Math.max(0, deadline - clock.now()) });
    } catch (error) {
      if (isPermanentFailure(error) || error instanceof AgentStopped) throw error;
      const wait = backoffDelayMs(attempt, options.retryBackoff ?? RETRY_BACKOFF, random);
      if (clock.now() + wait >= deadline || options.signal?.aborted) throw error;
      options.onRetry?.(error, wait);
      await clock.sleep(wait, options.signal);
    }
  }
}

export type AgentEvent =
  | { type: 'rotated'; rotation: number; svid: FetchedSvid; nextRotationAt: string }
  | { type: 'retrying'; attempt: number; delayMs: number; error: unknown }
  | { type: 'hook-failed'; error: unknown };

export interface SvidAgentOptions extends Omit<FetchSvidOptions, 'signal'> {
  /** Stops the agent: between steps, never in the middle of writing the files. */
  signal: AbortSignal;
  /** Fraction of the lifetime at which to renew (default 0.5, half-life). */
  rotateAt?: number;
  /** Jitter around the rotation point, as a fraction of it (default 0.1). */
  rotationJitter?: number;
  retryBackoff?: BackoffPolicy;
  /** Called after each complete write (the first fetch is rotation 0). Its failure is reported, not retried. */
  onRotate?: (svid: FetchedSvid, rotation: number) => Promise<void>;
  onEvent?: (event: AgentEvent) => void;
}

/**
 * Watch mode: fetch, then renew at `rotateAt` of each SVID's lifetime until the signal aborts.
 * The first fetch fails fast on a permanent refusal (not registered, forbidden, invalid); later
 * rotations retry everything with backoff, since the current files stay valid meanwhile.
 * Resolves when stopped; rejects only if the first fetch fails.
 */
export async function runSvidAgent(options: SvidAgentOptions): Promise<void> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const fraction = options.rotateAt ?? 0.5;
  const { signal } = options;
  let current: FetchedSvid | undefined;

  const fetchWithRetry = async (): Promise<FetchedSvid | undefined> => {
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        // Rotations reuse the entry found by the first fetch (its id is fixed for the SPIFFE ID).
        const known = current === undefined ? {} : { workload: { id: current.workloadId, spiffeId: current.spiffeId } };
        return await fetchSvid({ ...options, ...known, clock, random, signal });
      } catch (error) {
        if (error instanceof AgentStopped || signal.aborted) return undefined;
        if (current === undefined && isPermanentFailure(error)) throw error;
        const wait = backoffDelayMs(attempt, options.retryBackoff ?? RETRY_BACKOFF, random);
        options.onEvent?.({ type: 'retrying', attempt: attempt + 1, delayMs: wait, error });
        await clock.sleep(wait, signal);
      }
    }
    return undefined;
  };

  let nextAt = 0;
  for (let rotation = 0; !signal.aborted; rotation += 1) {
    if (current !== undefined) await clock.sleep(nextAt - clock.now(), signal);
    if (signal.aborted) return;
    const fetched = await fetchWithRetry();
    if (fetched === undefined) return;
    current = fetched;
    nextAt = rotationTimeMs({
      notBeforeMs: Date.parse(current.notBefore),
      notAfterMs: Date.parse(current.notAfter),
      nowMs: clock.now(),
      fraction,
      random,
      ...(options.rotationJitter === undefined ? {} : { jitter: options.rotationJitter }),
    });
    options.onEvent?.({ type: 'rotated', rotation, svid: current, nextRotationAt: new Date(nextAt).toISOString() });
    if (options.onRotate !== undefined) {
      try {
        await options.onRotate(current, rotation);
      } catch (error) {
        options.onEvent?.({ type: 'hook-failed', error });
      }
    }
  }
}
