/** The timing and retry settings of the SVID use cases, with their defaults. */
import type { BackoffPolicy } from './backoff';

export interface IssuanceTuning {
  /** NotBefore is this much before the issuing moment (SPIRE back-dates by 10 s too). */
  clockSkewSeconds: number;
  /** IssueCertificate attempts per delivery (throttling and transient errors). */
  issueAttempts: number;
  issueBackoff: BackoffPolicy;
  /** GetCertificate polling while RequestInProgressException. */
  pollBackoff: BackoffPolicy;
  /** Longest wait for a certificate to become ready. */
  maxPollMs: number;
  revokeAttempts: number;
  revokeBackoff: BackoffPolicy;
  /** A pending request is due for the watchdog this long after it was made (the watchdog decides by its age). */
  pendingTimeoutMs: number;
  /** After a failed renewal, try again this much later. */
  renewalRetryMs: number;
  /** Reuse a claimed validity window (and so its IdempotencyToken) only this long: AWS keeps tokens 5 minutes. */
  idempotencyWindowMs: number;
  /** How long a deleted workload's item (its revoked serials) is kept. */
  deletedRetentionSeconds: number;
  /** Cache-Control max-age of the trust bundle and the SPIFFE bundle refresh hint. */
  bundleRefreshSeconds: number;
}

export const DEFAULT_TUNING: IssuanceTuning = {
  clockSkewSeconds: 10,
  issueAttempts: 5,
  issueBackoff: { baseMs: 100, capMs: 2_000 },
  pollBackoff: { baseMs: 100, capMs: 2_000 },
  maxPollMs: 30_000,
  revokeAttempts: 5,
  revokeBackoff: { baseMs: 100, capMs: 2_000 },
  pendingTimeoutMs: 30_000,
  renewalRetryMs: 5 * 60_000,
  idempotencyWindowMs: 4 * 60_000,
  deletedRetentionSeconds: 30 * 24 * 3600,
  bundleRefreshSeconds: 300,
};
