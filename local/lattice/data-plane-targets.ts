/**
 * Which function serves which Lattice service, read from serverless.yml's Lambda target groups
 * (`AWS::VpcLattice::TargetGroup`, Type LAMBDA, `Targets[].Id: !GetAtt <Fn>LambdaFunction.Arn`), so the
 * local data plane and the deployed stack route the same way. Locally a target's service is named like
 * its function key (`billing`, `rates`): the names the local Lattice control plane creates its services with.
 */
import type { ServerlessConfig } from '../serverless-config';

interface Resource {
  Type?: unknown;
  Properties?: { Type?: unknown; Targets?: unknown };
}

/** Serverless's logical id of a function: `billing` → `BillingLambdaFunction` (lib/plugins/aws/lib/naming.js). */
export const functionLogicalId = (key: string): string =>
  `${key.charAt(0).toUpperCase()}${key.slice(1).replace(/-/g, 'Dash').replace(/_/g, 'Underscore')}LambdaFunction`;

const getAttTarget = (id: unknown): string | undefined => {
  if (typeof id !== 'object' || id === null) return undefined;
  const getAtt = (id as Record<string, unknown>)['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
};

/** Lattice service name → function key, for every Lambda target group of the template. */
export function latticeTargetFunctions(config: ServerlessConfig): Record<string, string> {
  const resources = (((config.raw.resources ?? {}) as Record<string, unknown>).Resources ?? {}) as Record<string, Resource>;
  const functionKeys = Object.keys((config.raw.functions ?? {}) as Record<string, unknown>);
  const byLogicalId = new Map(functionKeys.map((key) => [functionLogicalId(key), key]));
  const out: Record<string, string> = {};
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::VpcLattice::TargetGroup' || resource.Properties?.Type !== 'LAMBDA') continue;
    const targets = Array.isArray(resource.Properties.Targets) ? (resource.Properties.Targets as { Id?: unknown }[]) : [];
    for (const target of targets) {
      const logicalId = getAttTarget(target.Id);
      const key = logicalId === undefined ? undefined : byLogicalId.get(logicalId);
      if (key !== undefined) out[key] = key;
    }
  }
  return out;
}
