/**
 * One SDK client per process, created on first use from the standard AWS configuration
 * (region, credentials, and AWS_ENDPOINT_URL_<SERVICE> for endpoints). Callers that want a
 * different client (tests, benchmarks) pass their own to the adapters' constructors.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { ACMPCAClient } from '@aws-sdk/client-acm-pca';

let documentClient: DynamoDBDocumentClient | undefined;
let eventBridgeClient: EventBridgeClient | undefined;
let vpcLatticeClient: VPCLatticeClient | undefined;
let acmPcaClient: ACMPCAClient | undefined;

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

export function eventBridge(): EventBridgeClient {
  eventBridgeClient ??= new EventBridgeClient({});
  return eventBridgeClient;
}

/**
 * ACM Private CA. `maxAttempts: 1`: the SVID issuer retries itself, with jittered backoff and a
 * rate-limiter token for EVERY IssueCertificate attempt; an SDK-level retry would be an extra
 * call the rate limiter never saw (shared/svid/pca-retries.ts).
 */
export function acmPca(): ACMPCAClient {
  acmPcaClient ??= new ACMPCAClient({ maxAttempts: 1 });
  return acmPcaClient;
}

/** The VPC Lattice control plane (auth policies); AWS_ENDPOINT_URL_VPC_LATTICE points it at the local stand-in. */
export function vpcLattice(): VPCLatticeClient {
  vpcLatticeClient ??= new VPCLatticeClient({});
  return vpcLatticeClient;
}
