/**
 * Every metric Trellis emits, ONE list: the emitting code takes the unit from here (so a metric
 * cannot be emitted with two units), and the template tests check that every Trellis metric the
 * dashboard and the alarms in serverless.yml reference is listed here with the same unit.
 *
 * CloudWatch embedded metric format (Powertools Metrics), namespace `Trellis`, dimensions
 * `service` (always `trellis`, so the figures of all functions add up) and `stage`; a few metrics
 * carry one more dimension (see `extraDimension`) and are emitted a second time with it.
 */
export const METRICS_NAMESPACE = 'Trellis';
/** Powertools always adds a `service` dimension; one value for every function. */
export const METRICS_SERVICE = 'trellis';

export const metricCatalog = {
  // SVIDs
  TimeToIdentity: { unit: 'Milliseconds', description: 'From the SVID request (registration with a CSR, or a submitted CSR) to SvidIssued' },
  RenewalLag: { unit: 'Seconds', description: 'How far past the half-life of the SVID it replaces a renewal was issued (0 when on time)' },
  SvidsIssued: { unit: 'Count', description: 'SVIDs issued (SvidIssued events)' },
  SvidIssuanceFailures: { unit: 'Count', description: 'SVID requests ended failed (SvidIssuanceFailed events); also per `reason`', extraDimension: 'reason' },
  SvidsRevoked: { unit: 'Count', description: 'Certificates revoked (SvidRevoked events); also per `reason`', extraDimension: 'reason' },
  PcaThrottles: { unit: 'Count', description: 'ACM Private CA calls answered ThrottlingException' },
  PcaRetries: { unit: 'Count', description: 'ACM Private CA calls retried after a throttle or a transient error' },
  PendingSvidRequests: { unit: 'Count', description: 'SVID requests the watchdog found pending past the re-drive point (a quarter of the bound), per run' },
  OldestPendingSvidRequestAge: { unit: 'Seconds', description: 'Age of the oldest pending SVID request the watchdog found, per run (0 when none)' },
  // Policies
  GrantToPolicyLatency: { unit: 'Milliseconds', description: 'From a grant change (GrantChanged / GrantSetReplaced) to the PolicyApplied of its sync' },
  PolicyBytes: { unit: 'Bytes', description: 'Size of the applied auth policy, per `service`', extraDimension: 'latticeService' },
  PolicyQuotaUsed: { unit: 'Percent', description: 'Applied auth policy size as a percentage of the Lattice quota, per `service`', extraDimension: 'latticeService' },
  PolicySyncFailures: { unit: 'Count', description: 'Policy syncs that failed (PolicySyncFailed events)' },
  PolicyDriftRepaired: { unit: 'Count', description: 'Applied policies found not to be the compilation of the grants and re-applied (PolicyDriftRepaired events)' },
  PoliciesOutOfSync: { unit: 'Count', description: 'Services the scheduled reconcile could not bring in sync, per run' },
  // Events
  OutboxBacklog: { unit: 'Count', description: 'Outboxes the sweep found unpublished past the grace period, per run' },
} as const satisfies Record<string, { unit: MetricUnitName; description: string; extraDimension?: string }>;

/** The CloudWatch units used above (the names CloudWatch and Powertools' MetricUnit share). */
export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds' | 'Bytes' | 'Percent';
export type MetricName = keyof typeof metricCatalog;
export const metricNames = Object.keys(metricCatalog) as MetricName[];
