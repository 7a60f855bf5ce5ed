/**
 * SVID issuance under faults: N registrations with CSRs at concurrency C while the local ACM PCA
 * answers ThrottlingException to a share of IssueCertificate calls, a share of PutEvents entries
 * fail, and the issuer "crashes" (throws) right after IssueCertificate answered in a share of
 * deliveries. The schedules (outbox sweeper, watchdog) tick every second, as their rate(1 minute)
 * would over a longer run.
 *
 * Proven: every workload ends with exactly one SVID or an SvidIssuanceFailed with a reason, each
 * request has exactly one outcome event, no request stayed pending past the watchdog bound, and
 * the CA's count of issued certificates equals the SVIDs recorded plus the certificates revoked as
 * orphans (no certificate unaccounted for).
 */
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { apiEvent, parseResult } from '../support/api-events';
import { createCsrPem } from '../unit/svid-test-ca';
import { params, report } from './params';

const BOUND_SECONDS = Number(process.env.TRELLIS_FAULTS_SVID_BOUND_SECONDS ?? 30);
let stack: InProcessStack;
let crashes = 0;
type Handler = (event: unknown, context: Context) => Promise<unknown>;
let issuer: Handler | undefined;

beforeAll(async () => {
  stack = await startInProcessStack({
    // A crashed delivery comes back after a second, as it would after the visibility timeout.
    visibilityTimeoutMs: 1_000,
    maxAttempts: 3,
    env: { OUTBOX_GRACE_MS: '500', SVID_PENDING_BOUND_SECONDS: String(BOUND_SECONDS) },
    handlers: {
      // The production issuer with one fault seam: a throw between IssueCertificate and recording its answer.
      svidIssuer: async (event, context) => {
        if (issuer === undefined) {
          const { issuerHandler } = await import('../../functions/svid-issuer/handler');
          const { issuerDeps } = await import('../../shared/svid/deps');
          const { setting } = await import('../../shared/config');
          const crash = (): void => {
            if (Math.random() < params.issuerCrashRate) {
              crashes += 1;
              throw new Error('injected crash after IssueCertificate');
            }
          };
          issuer = issuerHandler({ ...issuerDeps(), faults: { afterIssueCertificate: crash } }, setting('SVID_REQUEST_MAX_RECEIVES')) as unknown as Handler;
        }
        return issuer(event, context);
      },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

describe('SVID issuance under throttling, lost PutEvents and issuer crashes', () => {
  it('every registration ends with exactly one SVID or an explicit failure; every certificate is accounted for', async () => {
    const { svidDeps } = await import('../../shared/svid/deps');
    const deps = svidDeps();
    stack.standIns.acmPca.setFaults({ throttleRate: params.pcaThrottleRate });
    stack.bus.setFaults({ putEventsFailureRate: params.putEventsFailureRate });
    const issuedBefore = stack.standIns.acmPca.stats().issued;

    // The schedules, every second.
    let ticking = true;
    const ticks = (async () => {
      while (ticking) {
        await new Promise((r) => setTimeout(r, 1_000));
        await stack.invoke('outboxSweeper', {}).catch(() => undefined);
        await stack.invoke('svidWatchdog', {}).catch(() => undefined);
      }
    })();

    const csr = await createCsrPem({ subject: 'CN=fault' });
    const workloads: { id: string; spiffeId: string; requestedAt: number }[] = [];
    let next = 0;
    let non201 = 0;
    await Promise.all(
      Array.from({ length: params.concurrency }, async () => {
        for (let i = next++; i < params.registrations; i = next++) {
          const spiffeId = `spiffe://example.org/faults/w${i}`;
          const res = parseResult(await stack.invoke('workloads', apiEvent({ method: 'POST', resource: '/workloads', body: { spiffeId, selectors: { awsPrincipalArns: [] }, csr } })));
          if (res.status !== 201) non201 += 1;
          else workloads.push({ id: (res.body as { id: string }).id, spiffeId, requestedAt: Date.parse((res.body as { createdAt: string }).createdAt) });
        }
      }),
    );
    expect(non201).toBe(0);

    // Wait until every request has ended, noting when each did.
    const endedAt = new Map<string, number>();
    const deadline = Date.now() + 10 * 60_000;
    while (endedAt.size < workloads.length && Date.now() < deadline) {
      for (const w of workloads) {
        if (endedAt.has(w.id)) continue;
        const state = await deps.svids.get(w.id);
        if (state?.status === 'issued' || state?.status === 'failed') endedAt.set(w.id, Date.now());
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const maxPendingSeconds = Math.max(...workloads.map((w) => ((endedAt.get(w.id) ?? Date.now()) - w.requestedAt) / 1000));
    expect(endedAt.size).toBe(workloads.length);

    // Faults off; let the outboxes drain (the sweeper publishes what PutEvents lost) and the bus settle.
    stack.standIns.acmPca.setFaults({});
    stack.bus.setFaults({});
    const outcomeTypes = new Set(['SvidIssued', 'SvidIssuanceFailed']);
    const outcomesByRequest = (): Map<string, Set<string>> => {
      const byRequest = new Map<string, Set<string>>();
      for (const e of stack.bus.events()) {
        if (!outcomeTypes.has(e['detail-type'])) continue;
        const d = e.detail as { requestId: string; eventId: string };
        byRequest.set(d.requestId, (byRequest.get(d.requestId) ?? new Set()).add(`${e['detail-type']}:${d.eventId}`));
      }
      return byRequest;
    };
    for (let i = 0; i < 30 && outcomesByRequest().size < workloads.length; i += 1) await new Promise((r) => setTimeout(r, 1_000));
    ticking = false;
    await ticks;
    await stack.bus.waitForIdle(60_000);

    let issued = 0;
    let failed = 0;
    const reasons: Record<string, number> = {};
    const listing = stack.standIns.acmPca.issuedCertificates();
    const outcomes = outcomesByRequest();
    for (const w of workloads) {
      const state = await deps.svids.get(w.id);
      const valid = listing.filter((c) => c.uris.includes(w.spiffeId) && !c.revoked);
      const requestId = state?.request?.requestId ?? '';
      expect([...(outcomes.get(requestId) ?? [])], `one outcome event for ${w.spiffeId}`).toHaveLength(1);
      if (state?.status === 'issued') {
        issued += 1;
        expect(valid.map((c) => c.serialHex), `${w.spiffeId}: one valid certificate, its SVID`).toEqual([state.svid?.serialNumber]);
      } else {
        failed += 1;
        expect(state?.failure?.reason, `${w.spiffeId} failed with a reason`).toMatch(/\S/);
        reasons[state?.failure?.reason ?? '?'] = (reasons[state?.failure?.reason ?? '?'] ?? 0) + 1;
        expect(valid, `${w.spiffeId}: no valid certificate after a failure`).toEqual([]);
      }
    }
    const caIssued = stack.standIns.acmPca.stats().issued - issuedBefore;
    const revokedOrphans = listing.filter((c) => c.revoked).length;
    expect(caIssued).toBe(issued + revokedOrphans);
    expect(maxPendingSeconds).toBeLessThanOrEqual(BOUND_SECONDS);

    const stats = stack.standIns.acmPca.stats();
    report('svid issuance', {
      registrations: workloads.length,
      concurrency: params.concurrency,
      'IssueCertificate calls': stats.issueCalls,
      'ThrottlingException injected': stats.throttled,
      'PutEvents entries failed': stack.bus.injectedFailures(),
      'issuer crashes injected': crashes,
      'SVIDs issued': issued,
      'SvidIssuanceFailed': failed,
      'failure reasons': JSON.stringify(reasons),
      'CA certificates issued': caIssued,
      'orphans revoked': revokedOrphans,
      'max pending s': Math.round(maxPendingSeconds * 10) / 10,
      'bound s': BOUND_SECONDS,
    });
  });
});
