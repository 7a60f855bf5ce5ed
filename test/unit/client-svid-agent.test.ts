/**
 * The SVID agent's schedule, backoff and retries, on a fake clock: sleeping advances virtual time
 * at once, so hours of rotations run in milliseconds and every wait is recorded. The fake API
 * issues real certificates (a P-256 test CA) for the CSR's own public key.
 */
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs10CertificateRequest, X509Certificate, X509CertificateGenerator } from '@peculiar/x509';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiError,
  POLL_BACKOFF,
  RETRY_BACKOFF,
  WorkloadEdgeError,
  backoffDelayMs,
  fetchSvid,
  fetchSvidWithRetry,
  pollDelayMs,
  rotationTimeMs,
  runSvidAgent,
  writeSvidFiles,
  type AgentClock,
  type AgentEvent,
  type CsrAccepted,
  type FetchedSvid,
  type SvidAgentApi,
  type SvidFiles,
  type SvidState,
} from '@trellis/client';

const SPIFFE_ID = 'spiffe://example.org/service/agent-test';
const WORKLOAD_ID = 'wl-00000000000000000000000000000001';
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** Virtual time: sleep(ms) moves the clock forward by ms and returns at once (or at once when aborted). */
class FakeClock implements AgentClock {
  sleeps: number[] = [];
  constructor(public t = T0) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    await Promise.resolve();
  }
}

/** A deterministic "random" source cycling through the given values. */
const sequence = (...values: number[]): (() => number) => {
  let i = 0;
  return () => values[i++ % values.length] ?? 0.5;
};

type Step = 'pending' | 'old' | 'issue' | 'fail' | Error;

let caKeys: webcrypto.CryptoKeyPair;
let caCert: X509Certificate;

beforeAll(async () => {
  caKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  caCert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=agent test CA',
    notBefore: new Date(T0 - 86_400_000),
    notAfter: new Date(T0 + 365 * 86_400_000),
    keys: caKeys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
});

/**
 * The API as the agent sees it. `script` says what each GET …/svid answers after each CSR (the
 * last step repeats); `submitErrors` are thrown by successive CSR submissions.
 */
class FakeApi implements SvidAgentApi {
  csrs: string[] = [];
  /** Thrown by successive GET …/svid before the script applies. */
  getErrors: Error[] = [];
  gets = 0;
  serial = 0x10;
  private issued: { certificatePem: string; serialNumber: string; notBefore: string; notAfter: string } | undefined;
  private step = 0;

  constructor(
    private readonly clock: FakeClock,
    public script: Step[] = ['issue'],
    public submitErrors: Error[] = [],
    private readonly ttlSeconds = 300,
  ) {}

  finds = 0;

  async findWorkload(spiffeId: string): Promise<{ id: string; spiffeId: string }> {
    this.finds += 1;
    return { id: WORKLOAD_ID, spiffeId };
  }

  async submitCsr(workloadId: string, csr: string): Promise<CsrAccepted> {
    const error = this.submitErrors.shift();
    if (error !== undefined) throw error;
    this.csrs.push(csr);
    this.step = 0;
    return { workloadId, spiffeId: SPIFFE_ID, requestId: `req-${this.csrs.length}`, requestedAt: new Date(this.clock.now()).toISOString(), status: 'pending' };
  }

  async getSvid(): Promise<SvidState> {
    this.gets += 1;
    const error = this.getErrors.shift();
    if (error !== undefined) throw error;
    const step = this.script[Math.min(this.step, this.script.length - 1)] ?? 'issue';
    this.step += 1;
    const requestId = `req-${this.csrs.length}`;
    if (step instanceof Error) throw step;
    if (step === 'pending') return { kind: 'pending', retryAfterSeconds: 1, message: 'being issued' };
    if (step === 'fail') {
      throw new ApiError(409, 'SvidIssuanceFailed', `Request ${requestId} failed (dns-name-not-registered)`, { details: [{ field: 'csr', rule: 'dns-name-not-registered', message: 'no' }] });
    }
    if (step === 'issue') this.issued = await this.issue();
    if (this.issued === undefined) return { kind: 'pending', retryAfterSeconds: 1, message: 'being issued' };
    // 'old': the previous SVID, while the latest request is still pending
    return {
      kind: 'issued',
      svid: {
        workloadId: WORKLOAD_ID,
        spiffeId: SPIFFE_ID,
        status: step === 'old' ? 'pending' : 'issued',
        ...this.issued,
        chainPem: caCert.toString('pem'),
        trustBundlePem: caCert.toString('pem'),
        renewAfter: this.issued.notAfter,
        latestRequest: { requestId, trigger: 'csr-submitted', requestedAt: new Date(this.clock.now()).toISOString(), status: step === 'old' ? 'pending' : 'issued' },
      },
    };
  }

  private async issue(): Promise<{ certificatePem: string; serialNumber: string; notBefore: string; notAfter: string }> {
    const csr = new Pkcs10CertificateRequest(this.csrs[this.csrs.length - 1] ?? '');
    const notBefore = new Date(Math.floor((this.clock.now() - 10_000) / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + this.ttlSeconds * 1000);
    this.serial += 1;
    const serialNumber = this.serial.toString(16).padStart(2, '0');
    const cert = await X509CertificateGenerator.create({
      serialNumber,
      subject: 'CN=agent-test',
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    return { certificatePem: cert.toString('pem'), serialNumber, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() };
  }
}

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-agent-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The public key (SPKI DER, hex) of a PKCS#8 key PEM and of a certificate PEM. */
async function keyMatchesCertificate(files: { svid: string; key: string }): Promise<boolean> {
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const keyPub = createPublicKey(createPrivateKey(readFileSync(files.key, 'utf8'))).export({ type: 'spki', format: 'der' });
  const certPub = Buffer.from(new X509Certificate(readFileSync(files.svid, 'utf8')).publicKey.rawData);
  return keyPub.equals(certPub);
}

describe('backoff and schedule (pure functions)', () => {
  it('backs off exponentially with equal jitter, capped', () => {
    const policy = { initialMs: 100, maxMs: 1_000 };
    expect(backoffDelayMs(0, policy, () => 0)).toBe(50);
    expect(backoffDelayMs(0, policy, () => 1)).toBe(100);
    expect(backoffDelayMs(2, policy, () => 0)).toBe(200);
    expect(backoffDelayMs(2, policy, () => 1)).toBe(400);
    for (let attempt = 4; attempt < 40; attempt += 1) {
      expect(backoffDelayMs(attempt, policy, Math.random)).toBeLessThanOrEqual(1_000);
      expect(backoffDelayMs(attempt, policy, Math.random)).toBeGreaterThanOrEqual(500);
    }
  });

  it('never polls sooner than the server\'s Retry-After', () => {
    expect(pollDelayMs(0, 1, POLL_BACKOFF, () => 0)).toBe(1_000);
    expect(pollDelayMs(0, undefined, POLL_BACKOFF, () => 0)).toBe(POLL_BACKOFF.initialMs / 2);
    expect(pollDelayMs(10, 1, POLL_BACKOFF, () => 1)).toBe(POLL_BACKOFF.maxMs);
    expect(pollDelayMs(0, 30, POLL_BACKOFF, () => 1)).toBe(30_000);
  });

  it('renews at the fraction of the lifetime, jittered ±10% of it, never before now or past expiry', () => {
    const notBeforeMs = T0;
    const notAfterMs = T0 + 3_600_000;
    const at = (fraction: number, r: number, nowMs = T0): number => rotationTimeMs({ notBeforeMs, notAfterMs, nowMs, fraction, random: () => r });
    expect(at(0.5, 0.5)).toBe(T0 + 1_800_000);
    expect(at(0.5, 0)).toBe(T0 + 1_620_000);
    expect(at(0.5, 1)).toBe(T0 + 1_980_000);
    for (let i = 0; i < 200; i += 1) {
      const t = at(0.5, Math.random());
      expect(t).toBeGreaterThanOrEqual(T0 + 1_620_000);
      expect(t).toBeLessThanOrEqual(T0 + 1_980_000);
    }
    // a fraction near 1 is held a safety margin (10% of the lifetime, at most a minute) before expiry
    expect(at(0.99, 1)).toBe(notAfterMs - 60_000);
    // a short SVID: 10% of 300 s
    expect(rotationTimeMs({ notBeforeMs: T0, notAfterMs: T0 + 300_000, nowMs: T0, fraction: 0.99, random: () => 1 })).toBe(T0 + 270_000);
    // already past the point: now
    expect(at(0.5, 0.5, T0 + 2_000_000)).toBe(T0 + 2_000_000);
  });
});

describe('fetchSvid', () => {
  it('polls while pending, honouring Retry-After, then writes a key that matches the certificate', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock, ['pending', 'pending', 'issue']);
    const dir = tempDir();
    const fetched = await fetchSvid({ api, spiffeId: SPIFFE_ID, dir, clock, random: () => 0 });
    expect(api.csrs).toHaveLength(1);
    expect(api.gets).toBe(3);
    expect(clock.sleeps).toEqual([1_000, 1_000]);
    expect(fetched).toMatchObject({ spiffeId: SPIFFE_ID, workloadId: WORKLOAD_ID, serialNumber: '11', dir });
    expect(statSync(fetched.files.key).mode & 0o777).toBe(0o600);
    expect(await keyMatchesCertificate(fetched.files)).toBe(true);
    // svid.pem: the leaf, then the chain; bundle.pem: the trust bundle
    expect(readFileSync(fetched.files.svid, 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(readFileSync(fetched.files.bundle, 'utf8')).toBe(`${caCert.toString('pem').trim()}\n`);
  });

  it('does not take the previous SVID shown while its own request is pending', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock);
    const dir = tempDir();
    const first = await fetchSvid({ api, spiffeId: SPIFFE_ID, dir, clock });
    api.script = ['old', 'old', 'issue'];
    const second = await fetchSvid({ api, spiffeId: SPIFFE_ID, dir, clock });
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(api.gets).toBe(4);
    expect(await keyMatchesCertificate(second.files)).toBe(true);
  });

  it('fails clearly on SvidIssuanceFailed and leaves the files untouched', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock, ['pending', 'fail']);
    let writes = 0;
    const error = await fetchSvid({ api, spiffeId: SPIFFE_ID, dir: tempDir(), clock, write: async () => void (writes += 1) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'SvidIssuanceFailed' });
    expect(writes).toBe(0);
  });

  it('gives up after the timeout on the (fake) clock, with backoff growing up to its cap', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock, ['pending']);
    api.getSvid = async () => ({ kind: 'pending', retryAfterSeconds: undefined, message: 'slow' });
    const error = await fetchSvid({ api, spiffeId: SPIFFE_ID, dir: tempDir(), clock, random: () => 1, timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadEdgeError);
    expect((error as WorkloadEdgeError).code).toBe('SvidTimeout');
    expect(clock.sleeps.slice(0, 6)).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000]);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(20_000);
  });
});

describe('fetchSvidWithRetry (one-shot fetch)', () => {
  it('rides out transient failures within the timeout, fails at once on a permanent refusal', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock, ['issue'], [new ApiError(504, 'Http504', 'Lambda timeout'), new WorkloadEdgeError('ApiUnreachable', 'ECONNREFUSED', 'start it')]);
    const retries: number[] = [];
    const fetched = await fetchSvidWithRetry({ api, spiffeId: SPIFFE_ID, dir: tempDir(), clock, random: () => 1, onRetry: (_e, ms) => retries.push(ms) });
    expect(retries).toEqual([1_000, 2_000]);
    expect(await keyMatchesCertificate(fetched.files)).toBe(true);

    const forbidden = new FakeApi(clock, ['issue'], [new ApiError(403, 'Forbidden', 'not a selector')]);
    await expect(fetchSvidWithRetry({ api: forbidden, spiffeId: SPIFFE_ID, dir: tempDir(), clock })).rejects.toMatchObject({ code: 'Forbidden' });
    expect(forbidden.csrs).toHaveLength(0);

    const down = new FakeApi(clock, ['issue'], Array.from({ length: 100 }, () => new ApiError(503, 'Http503', 'down')));
    const started = clock.now();
    await expect(fetchSvidWithRetry({ api: down, spiffeId: SPIFFE_ID, dir: tempDir(), clock, timeoutMs: 10_000 })).rejects.toMatchObject({ status: 503 });
    expect(clock.now() - started).toBeLessThanOrEqual(10_000);
  });
});

describe('runSvidAgent (watch mode)', () => {
  it('renews at half-life with jitter, a new key and CSR each time, rewriting the files', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock, ['pending', 'issue']);
    const dir = tempDir();
    const controller = new AbortController();
    const rotations: FetchedSvid[] = [];
    const keys = new Set<string>();
    await runSvidAgent({
      api,
      spiffeId: SPIFFE_ID,
      dir,
      clock,
      random: sequence(0.2, 0.9, 0.5),
      signal: controller.signal,
      onRotate: async (svid, rotation) => {
        rotations.push(svid);
        expect(await keyMatchesCertificate(svid.files)).toBe(true);
        keys.add(readFileSync(svid.files.key, 'utf8'));
        if (rotation === 3) controller.abort();
      },
    });
    expect(rotations).toHaveLength(4);
    expect(api.csrs).toHaveLength(4);
    expect(new Set(api.csrs).size).toBe(4);
    expect(keys.size).toBe(4);
    expect(api.finds).toBe(1); // rotations reuse the entry the first fetch found
    // each renewal started between 135 s and 165 s into the previous SVID's 300 s life
    for (let i = 1; i < rotations.length; i += 1) {
      const previous = rotations[i - 1] as FetchedSvid;
      const renewedAt = Date.parse((rotations[i] as FetchedSvid).notBefore) + 10_000 - 1_000; // notBefore = request time − 10 s, minus the one poll
      const into = renewedAt - Date.parse(previous.notBefore);
      expect(into).toBeGreaterThanOrEqual(135_000 - 1_000);
      expect(into).toBeLessThanOrEqual(165_000 + 1_000);
    }
  });

  it('rotates at --rotate-at of the lifetime', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock);
    const controller = new AbortController();
    const events: AgentEvent[] = [];
    await runSvidAgent({
      api,
      spiffeId: SPIFFE_ID,
      dir: tempDir(),
      clock,
      random: () => 0.5,
      rotateAt: 0.1,
      signal: controller.signal,
      onEvent: (e) => events.push(e),
      onRotate: async (_svid, rotation) => {
        if (rotation === 2) controller.abort();
      },
    });
    const rotated = events.filter((e): e is Extract<AgentEvent, { type: 'rotated' }> => e.type === 'rotated');
    expect(rotated).toHaveLength(3);
    for (const e of rotated) expect(Date.parse(e.nextRotationAt) - Date.parse(e.svid.notBefore)).toBe(30_000); // 10% of 300 s
  });

  it('retries a failed renewal with capped backoff, keeping the old files until a complete new set exists', async () => {
    const clock = new FakeClock();
    const api = new FakeApi(clock);
    const dir = tempDir();
    const controller = new AbortController();
    const events: AgentEvent[] = [];
    const snapshots: string[] = [];
    let rotations = 0;
    const unavailable = (): ApiError => new ApiError(502, 'Http502', 'bad gateway');
    await runSvidAgent({
      api,
      spiffeId: SPIFFE_ID,
      dir,
      clock,
      random: () => 1,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'retrying') snapshots.push(readFileSync(join(dir, 'svid.pem'), 'utf8'));
      },
      onRotate: async () => {
        rotations += 1;
        if (rotations === 1) {
          // the renewal meets an outage: 7 refused CSR submissions, then a failing poll
          api.submitErrors = Array.from({ length: 7 }, unavailable);
          api.getErrors = [new Error('socket hang up')];
        }
        if (rotations === 2) controller.abort();
      },
    });
    const retries = events.filter((e): e is Extract<AgentEvent, { type: 'retrying' }> => e.type === 'retrying');
    expect(retries.map((r) => r.delayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(Math.max(...retries.map((r) => r.delayMs))).toBe(RETRY_BACKOFF.maxMs);
    // during the outage the first SVID stayed in place, whole
    expect(new Set(snapshots).size).toBe(1);
    expect(rotations).toBe(2);
    expect(await keyMatchesCertificate({ svid: join(dir, 'svid.pem'), key: join(dir, 'svid-key.pem') })).toBe(true);
  });

  it('fails fast when the first fetch is refused for good (not registered)', async () => {
    const clock = new FakeClock();
    const refused = new FakeApi(clock);
    refused.findWorkload = async () => {
      throw new ApiError(404, 'NotFound', 'no workload');
    };
    const controller = new AbortController();
    await expect(runSvidAgent({ api: refused, spiffeId: SPIFFE_ID, dir: tempDir(), clock, signal: controller.signal })).rejects.toMatchObject({ code: 'NotFound' });

    expect(refused.csrs).toHaveLength(0);
    expect(clock.sleeps).toEqual([]);
  });

  it('retries a transient first failure and stops at once when signalled while waiting', async () => {
    // this clock only fast-forwards short waits: the wait for the renewal blocks until the stop
    const clock = new FakeClock();
    const fastForward = clock.sleep.bind(clock);
    clock.sleep = (ms, signal) =>
      ms < 60_000 ? fastForward(ms, signal) : new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    const api = new FakeApi(clock, ['issue'], [new WorkloadEdgeError('ApiUnreachable', 'ECONNREFUSED', 'start it')]);
    const controller = new AbortController();
    const events: AgentEvent[] = [];
    let writes = 0;
    const done = runSvidAgent({
      api,
      spiffeId: SPIFFE_ID,
      dir: tempDir(),
      clock,
      random: () => 0,
      signal: controller.signal,
      write: async (dir: string, files: SvidFiles) => {
        writes += 1;
        await writeSvidFiles(dir, files);
      },
      onEvent: (e) => events.push(e),
    });
    // let it fetch once (after one retry), then stop it while it sleeps until the renewal
    for (let i = 0; i < 1_000 && writes === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await done;
    expect(events.map((e) => e.type)).toEqual(['retrying', 'rotated']);
    expect(writes).toBe(1);
    expect(api.csrs).toHaveLength(1);
  });
});
