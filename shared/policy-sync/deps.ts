/**
 * What the policy sync use cases take (the grants' dependencies, the Lattice seam, the bus, the
 * compile settings), and their production wiring: one client per process, from configuration.
 */
import { dynamoDocumentClient, eventBridge, vpcLattice } from '../aws/clients';
import { setting } from '../config';
import { EventBridgePublisher } from '../events/publisher';
import { grantsDeps } from '../grants/deps';
import { LatticeAuthPolicies } from './auth-policies';
import { PowertoolsMetricsSink, type MetricsSink } from '../metrics/metrics';
import type { EventDetail } from '../events/catalog';
import type { EventPublisher } from '../events/publisher';
import type { GrantsDeps } from '../grants/service';
import type { AuthPolicies } from './auth-policies';
import type { CompileSettings } from './compile';
import { DynamoRevocationStore, type RevocationStore } from './revocations';

export interface PolicyDeps extends GrantsDeps {
  policies: AuthPolicies;
  publisher: EventPublisher;
  compile: CompileSettings;
  /** Revoked, unexpired certificates: every compiled policy denies their sessions. None when absent. */
  revocations?: RevocationStore;
  /** Bound on iterations of one sync (default 25). */
  maxIterations?: number;
  /** The reconcile's services out of sync (metrics/catalog.ts); none when absent. */
  metrics?: MetricsSink;
}

export type Trigger = EventDetail<'PolicyApplied'>['trigger'];

export const clock = (deps: { now?: () => Date }): Date => (deps.now ? deps.now() : new Date());

export function policyDeps(): PolicyDeps {
  const issuerOu = setting('POLICY_ISSUER_OU');
  return {
    ...grantsDeps(),
    policies: new LatticeAuthPolicies(vpcLattice()),
    revocations: new DynamoRevocationStore(dynamoDocumentClient(), setting('REVOCATIONS_TABLE')),
    publisher: new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME')),
    metrics: new PowertoolsMetricsSink(),
    compile: {
      principalArn: setting('WORKLOAD_ROLE_ARN'),
      trustDomain: setting('TRUST_DOMAIN'),
      ...(issuerOu === undefined ? {} : { issuerOu }),
    },
  };
}
