/** Production wiring of the SVID use cases: one client per process, from configuration. */
import { acmPca, dynamoDocumentClient, eventBridge } from '../aws/clients';
import { setting } from '../config';
import { EventBridgePublisher } from '../events/publisher';
import { Outbox } from '../outbox/outbox';
import { WorkloadRepository } from '../workloads/repository';
import type { IssuerDeps, PcaDeps, SvidDeps } from './issuance';
import { AcmPcaAdapter, CaCache } from './pca-client';
import { DynamoRateLimiter } from './rate-limiter';
import { SvidRepository } from './svid-repository';

export function svidDeps(): SvidDeps {
  const db = dynamoDocumentClient();
  const publisher = new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME'));
  return {
    svids: new SvidRepository(db, setting('SVIDS_TABLE')),
    workloads: new WorkloadRepository(db, setting('WORKLOADS_TABLE')),
    outbox: new Outbox(db, publisher),
    publisher,
  };
}

export function pcaDeps(): PcaDeps {
  return { ...svidDeps(), ca: new CaCache(new AcmPcaAdapter(acmPca(), setting('PCA_CA_ARN'))) };
}

/**
 * The IssueCertificate quota is per account and region, so the bucket is named after the CA's
 * account and region: every issuer of this stage shares it. (Stages that share an account each
 * have their own table: give them rates that add up to less than the quota.)
 */
export function issuerDeps(): IssuerDeps {
  const deps = pcaDeps();
  const [, , , region, account] = deps.ca.pca.caArn.split(':');
  const limiter = new DynamoRateLimiter(dynamoDocumentClient(), setting('RATE_LIMITS_TABLE'), `acm-pca:IssueCertificate:${region}:${account}`, {
    ratePerSecond: setting('SVID_ISSUE_RATE_PER_SECOND'),
  });
  return { ...deps, limiter };
}
