/**
 * The narrow seam to VPC Lattice auth policies: the two calls the policy sync makes. The SDK-backed
 * adapter is below; tests may wrap it to force interleavings.
 */
import { GetAuthPolicyCommand, PutAuthPolicyCommand, type VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { canonicalJson } from '../policy/compiler';

export interface AppliedPolicy {
  /** The policy text exactly as Lattice returns it. */
  policy: string;
  /** Active only while the service's auth type is AWS_IAM. */
  state: string | undefined;
  lastUpdatedAt: string | undefined;
}

export interface AuthPolicies {
  /** The policy attached to the service, or undefined when it has none. */
  get(serviceArn: string): Promise<AppliedPolicy | undefined>;
  put(serviceArn: string, policy: string): Promise<void>;
}

export class LatticeAuthPolicies implements AuthPolicies {
  constructor(private readonly client: VPCLatticeClient) {}

  async get(serviceArn: string): Promise<AppliedPolicy | undefined> {
    const out = await this.client.send(new GetAuthPolicyCommand({ resourceIdentifier: serviceArn }));
    // A service without a policy answers 200 with no members (local/lattice/control-plane.ts: UNCONFIRMED on AWS).
    if (out.policy === undefined || out.policy === '') return undefined;
    const lastUpdatedAt = out.lastUpdatedAt instanceof Date ? out.lastUpdatedAt.toISOString() : undefined;
    return { policy: out.policy, state: out.state, lastUpdatedAt };
  }

  async put(serviceArn: string, policy: string): Promise<void> {
    await this.client.send(new PutAuthPolicyCommand({ resourceIdentifier: serviceArn, policy }));
  }
}

type Json = Parameters<typeof canonicalJson>[0];

/**
 * The applied policy in the compiler's canonical form (sorted keys, no whitespace), or undefined
 * when it is not JSON. Comparing canonical forms, not raw text, means a service that stores the
 * document reformatted is not mistaken for drift (and not re-Put on every sync).
 */
export function canonicalPolicy(text: string): string | undefined {
  try {
    return canonicalJson(JSON.parse(text) as Json);
  } catch {
    return undefined;
  }
}
