/**
 * The fault suite's parameters: environment variables with the CI defaults, so a longer soak runs
 * by hand, e.g. TRELLIS_FAULTS_REGISTRATIONS=1000 TRELLIS_FAULTS_CONCURRENCY=50 npm run test:faults.
 */
import { appendFileSync } from 'node:fs';

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, got "${raw}"`);
  return value;
};

export const params = {
  registrations: num('TRELLIS_FAULTS_REGISTRATIONS', 200),
  concurrency: num('TRELLIS_FAULTS_CONCURRENCY', 20),
  pcaThrottleRate: num('TRELLIS_FAULTS_PCA_THROTTLE_RATE', 0.2),
  putEventsFailureRate: num('TRELLIS_FAULTS_PUT_EVENTS_FAILURE_RATE', 0.05),
  issuerCrashRate: num('TRELLIS_FAULTS_ISSUER_CRASH_RATE', 0.02),
  grantChanges: num('TRELLIS_FAULTS_GRANT_CHANGES', 500),
  grantServices: num('TRELLIS_FAULTS_GRANT_SERVICES', 4),
  putAuthPolicyFailureRate: num('TRELLIS_FAULTS_PUT_AUTH_POLICY_FAILURE_RATE', 0.05),
  crashBurst: num('TRELLIS_FAULTS_CRASH_BURST', 60),
  /** The watchdog bound of the crash test, seconds. */
  crashBoundSeconds: num('TRELLIS_FAULTS_CRASH_BOUND_SECONDS', 30),
  fuzzRuns: num('TRELLIS_FAULTS_FUZZ_RUNS', 300),
};

/** Records a suite's counts for the summary printed at the end (test/faults/summary.ts). */
export function report(suite: string, counts: Record<string, number | string>): void {
  console.log(`[faults] ${suite}: ${JSON.stringify(counts)}`);
  const file = process.env.TRELLIS_FAULTS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ suite, counts })}\n`);
}
