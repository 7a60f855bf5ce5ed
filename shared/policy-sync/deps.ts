/** Production wiring of the policy sync and reconcile: one client per process, from configuration. */
import { eventBridge, vpcLattice } from '../aws/clients';
import { setting } from '../config';
import { EventBridgePublisher } from '../events/publisher';
import { grantsDeps } from '../grants/deps';
import { LatticeAuthPolicies } from './auth-policies';
import type { PolicyDeps } from './sync';

export function policyDeps(): PolicyDeps {
  const issuerOu = setting('POLICY_ISSUER_OU');
  return {
    ...grantsDeps(),
    policies: new LatticeAuthPolicies(vpcLattice()),
    publisher: new EventBridgePublisher(eventBridge(), setting('EVENT_BUS_NAME')),
    compile: {
      principalArn: setting('WORKLOAD_ROLE_ARN'),
      trustDomain: setting('TRUST_DOMAIN'),
      ...(issuerOu === undefined ? {} : { issuerOu }),
    },
  };
}
