/**
 * Fault switch and counters for IssueCertificate traffic. The issuer's rate limiter is tested
 * against `maxObservedIssuePerSecond`, so the window arithmetic lives here, on an injectable
 * millisecond clock.
 *
 * Decided: the throttling faults apply to IssueCertificate only (the call AWS rate-limits hardest
 * and the one the issuer paces); other operations are never throttled.
 */
export interface AcmPcaFaults {
  /** Probability (0..1) that an IssueCertificate call answers ThrottlingException. */
  throttleRate?: number;
  /** Deterministic: the next N IssueCertificate calls answer ThrottlingException. */
  throttleFirst?: number;
  /** Request-rate quota: more admitted IssueCertificate calls than this in any 1 s window → ThrottlingException 'Rate exceeded'. */
  maxIssuePerSecond?: number;
}

export interface AcmPcaStats {
  /** IssueCertificate requests received (throttled and invalid ones included). */
  issueCalls: number;
  /** Certificates actually signed (idempotent repeats not counted). */
  issued: number;
  /** IssueCertificate requests answered with ThrottlingException. */
  throttled: number;
  /** Most IssueCertificate requests that arrived within any 1-second sliding window. */
  maxObservedIssuePerSecond: number;
  /** GetCertificate requests received. */
  getCertificateCalls: number;
}

const WINDOW_MS = 1000;

export type ThrottleDecision = { throttle: false } | { throttle: true; message: string };

/** Drops timestamps that left the window (t - 1000, t]. */
const slide = (times: number[], now: number): void => {
  while (times.length > 0 && (times[0] ?? 0) <= now - WINDOW_MS) times.shift();
};

export class IssueTraffic {
  private faults: AcmPcaFaults = {};
  private throttleFirstLeft = 0;
  private arrivals: number[] = [];
  private admitted: number[] = [];
  private counters: AcmPcaStats = IssueTraffic.zero();

  constructor(
    faults: AcmPcaFaults = {},
    private readonly clock: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.setFaults(faults);
  }

  private static zero(): AcmPcaStats {
    return { issueCalls: 0, issued: 0, throttled: 0, maxObservedIssuePerSecond: 0, getCertificateCalls: 0 };
  }

  /** Replaces the whole fault configuration (`setFaults({})` turns every fault off). */
  setFaults(faults: AcmPcaFaults): void {
    const { throttleRate, throttleFirst, maxIssuePerSecond } = faults;
    if (throttleRate !== undefined && !(throttleRate >= 0 && throttleRate <= 1)) throw new RangeError('throttleRate must be between 0 and 1');
    if (throttleFirst !== undefined && !(Number.isInteger(throttleFirst) && throttleFirst >= 0)) throw new RangeError('throttleFirst must be a whole number ≥ 0');
    if (maxIssuePerSecond !== undefined && !(maxIssuePerSecond > 0)) throw new RangeError('maxIssuePerSecond must be > 0');
    this.faults = { ...faults };
    this.throttleFirstLeft = throttleFirst ?? 0;
  }

  /** Counts an IssueCertificate arrival and decides whether it is throttled. */
  onIssueCall(): ThrottleDecision {
    const now = this.clock();
    this.counters.issueCalls += 1;
    slide(this.arrivals, now);
    this.arrivals.push(now);
    this.counters.maxObservedIssuePerSecond = Math.max(this.counters.maxObservedIssuePerSecond, this.arrivals.length);

    slide(this.admitted, now);
    let throttle = false;
    if (this.throttleFirstLeft > 0) {
      this.throttleFirstLeft -= 1;
      throttle = true;
    } else if (this.faults.throttleRate !== undefined && this.random() < this.faults.throttleRate) {
      throttle = true;
    } else if (this.faults.maxIssuePerSecond !== undefined && this.admitted.length >= this.faults.maxIssuePerSecond) {
      throttle = true;
    }
    if (throttle) {
      this.counters.throttled += 1;
      return { throttle: true, message: 'Rate exceeded' };
    }
    this.admitted.push(now);
    return { throttle: false };
  }

  onIssued(): void {
    this.counters.issued += 1;
  }

  onGetCertificate(): void {
    this.counters.getCertificateCalls += 1;
  }

  stats(): AcmPcaStats {
    return { ...this.counters };
  }

  /** Zeroes the counters and windows; the fault configuration stays. */
  resetStats(): void {
    this.counters = IssueTraffic.zero();
    this.arrivals = [];
    this.admitted = [];
  }
}
