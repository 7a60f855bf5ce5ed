/**
 * What the SVID use cases take: the repositories, the outbox, the PCA seam and the rate limiter as
 * narrow interfaces, the tuning, and one clock (`now`, `sleep`, `random`), so every time-based step
 * runs on a fake clock in tests. The production wiring (one client per process, from
 * configuration) is at the end.
 */
import { acmPca, dynamoDocumentClient, eventBridge } from '../aws/clients';
import { setting } from '../config';
import type { EventPublisher } from '../events/publisher';
import { EventBridgePublisher } from '../events/publisher';
import { Outbox } from '../outbox/outbox';
import type { StoredWorkload } from '../workloads/model';
import { WorkloadRepository } from '../workloads/repository';
import { sleep as realSleep } from './backoff';
import { AcmPcaAdapter, CaCache } from './pca-client';
import { DynamoRateLimiter, type RateLimiter } from './rate-limiter';
import { SvidRepository } from './svid-repository';
import { LocalPcaListing, type IssuedCertificateLookup } from './issued-lookup';
import { DEFAULT_TUNING, type IssuanceTuning } from './tuning';
import { noMetrics, PowertoolsMetricsSink, type MetricsSink } from '../metrics/metrics';

export interface WorkloadReader {
  get(id: string): Promise<StoredWorkload | undefined>;
}

export interface SvidDeps {
  svids: SvidRepository;
  workloads: WorkloadReader;
  outbox: Outbox;
  /** For events that no write of the SVID item carries (a request that is no longer the item's). */
  publisher: EventPublisher;
  now?: () => Date;
  tuning?: Partial<IssuanceTuning>;
  /** PCA throttles and retries, pending requests (metrics/catalog.ts); none when absent. */
  metrics?: MetricsSink;
}

export interface PcaDeps extends SvidDeps {
  ca: CaCache;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface IssuerDeps extends PcaDeps {
  limiter: RateLimiter;
  /** Where the CA can be asked what it issued; absent on AWS (ACM PCA has no such API, see issued-lookup.ts). */
  issuedLookup?: IssuedCertificateLookup;
  /** Fault injection for the fault suite (test/faults): never set in production wiring. */
  faults?: { afterIssueCertificate?: (certificateArn: string) => void };
}


export const metricsOf = (deps: SvidDeps): MetricsSink => deps.metrics ?? noMetrics;
export const clock = (deps: SvidDeps): Date => (deps.now ? deps.now() : new Date());
export const tuningOf = (deps: SvidDeps): IssuanceTuning => ({ ...DEFAULT_TUNING, ...(deps.tuning ?? {}) });
export const pause = (deps: PcaDeps, ms: number): Promise<void> => (deps.sleep ?? realSleep)(ms);
/** When the watchdog first looks at a request made at `requestedAt` (it re-drives it once it is old enough). */
export const pendingDeadline = (deps: SvidDeps, requestedAt: Date): Date => new Date(requestedAt.getTime() + tuningOf(deps).pendingTimeoutMs);

// ---------------------------------------------------------------------------------------------
// Production wiring

export function svidDeps(): SvidDeps {
  const db = dynamoDocumentClient();
  const publisher = new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME'));
  return {
    svids: new SvidRepository(db, setting('SVIDS_TABLE')),
    workloads: new WorkloadRepository(db, setting('WORKLOADS_TABLE')),
    outbox: new Outbox(db, publisher),
    publisher,
    metrics: new PowertoolsMetricsSink(),
  };
}

export function pcaDeps(): PcaDeps {
  return { ...svidDeps(), ca: new CaCache(new AcmPcaAdapter(acmPca(), setting('PCA_CA_ARN'))) };
}

/**
 * The IssueCertificate quota is per account and region, so the limiter's schedule item is named after the CA's
 * account and region: every issuer of this stage shares it. (Stages that share an account each
 * have their own table: give them rates that add up to less than the quota.)
 */
export function issuerDeps(): IssuerDeps {
  const deps = pcaDeps();
  const [, , , region, account] = deps.ca.pca.caArn.split(':');
  const limiter = new DynamoRateLimiter(dynamoDocumentClient(), setting('RATE_LIMITS_TABLE'), `acm-pca:IssueCertificate:${region}:${account}`, {
    ratePerSecond: setting('SVID_ISSUE_RATE_PER_SECOND'),
  });
  const listingUrl = setting('PCA_ISSUED_LISTING_URL');
  return { ...deps, limiter, ...(listingUrl === undefined ? {} : { issuedLookup: new LocalPcaListing(listingUrl) }) };
}
