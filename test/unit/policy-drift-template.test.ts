/**
 * The drift rule and role of serverless.yml: the rule is on the DEFAULT bus (CloudTrail delivers
 * there only), matches successful PutAuthPolicy / DeleteAuthPolicy / UpdateService calls of VPC
 * Lattice by any caller (Trellis's own calls are dropped in the handler, see drift-trigger.ts), has
 * a dead-letter queue; the role may do what the reconciler does and nothing more.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { matchesPattern } from '../../local/eventbridge/pattern';
import { functionEnvironment, loadServerlessConfig, ruleDefinitions } from '../../local/serverless-config';

process.env.TRELLIS_LOCAL_CA_ARN ??= 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/00000000-0000-4000-8000-000000000000';
process.env.TRELLIS_LOCAL_LATTICE_SERVICES ??= 'billing=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0';
const file = join(import.meta.dirname, '..', '..', 'serverless.yml');
const local = loadServerlessConfig(file, 'local');
const dev = loadServerlessConfig(file, 'dev');

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const statementsOf = (role: string): Statement[] => {
  const resources = (dev.raw.resources as { Resources: Record<string, { Type: string; Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } }> }).Resources;
  const r = resources[role];
  if (!r) throw new Error(`no resource ${role}`);
  expect(r.Type).toBe('AWS::IAM::Role');
  return r.Properties.Policies.flatMap((p) => p.PolicyDocument.Statement);
};
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

const cloudTrailEvent = (eventName: string, userIdentity: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: '1',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.vpc-lattice',
  account: '123456789012',
  time: '2025-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { eventSource: 'vpc-lattice.amazonaws.com', eventName, userIdentity, requestParameters: { resourceIdentifier: 'svc-0123456789abcdef0' }, ...extra },
});
const USER = { type: 'IAMUser', arn: 'arn:aws:iam::123456789012:user/Alice' };
const ROLE = { type: 'AssumedRole', arn: 'arn:aws:sts::123456789012:assumed-role/x/y', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::123456789012:role/x' } } };

describe('the policyDrift rule', () => {
  const rules = ruleDefinitions(local).filter((r) => r.targets.some((t) => t.functionName === 'trellis-local-policyDrift'));

  it('is one rule on the default bus, with the events dead-letter queue', () => {
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule?.eventBusName).toBe('default');
    expect(rule?.targets).toEqual([expect.objectContaining({ deadLetterQueue: 'trellis-local-events-dlq' })]);
    expect(rule?.pattern).toEqual({
      source: ['aws.vpc-lattice'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['vpc-lattice.amazonaws.com'], eventName: ['PutAuthPolicy', 'DeleteAuthPolicy', 'UpdateService'], errorCode: [{ exists: false }] },
    });
  });

  it('matches the three calls by a user and by a role, and not failed calls or other operations', () => {
    const pattern = rules[0]?.pattern;
    for (const name of ['PutAuthPolicy', 'DeleteAuthPolicy', 'UpdateService']) {
      expect(matchesPattern(pattern, cloudTrailEvent(name, USER)), name).toBe(true);
      expect(matchesPattern(pattern, cloudTrailEvent(name, ROLE)), name).toBe(true);
    }
    expect(matchesPattern(pattern, cloudTrailEvent('PutAuthPolicy', USER, { errorCode: 'AccessDenied' }))).toBe(false);
    expect(matchesPattern(pattern, cloudTrailEvent('GetAuthPolicy', USER))).toBe(false);
    expect(matchesPattern(pattern, { ...cloudTrailEvent('PutAuthPolicy', USER), source: 'trellis' })).toBe(false);
  });

  it("gets Trellis's policy writer roles: the three roles in AWS, the local control plane's role locally", () => {
    expect(functionEnvironment(dev, 'policyDrift').POLICY_WRITER_ROLE_ARNS).toBeDefined();
    expect(dev.params.policyWriterRoleArns).toBeDefined();
    const join = (dev.raw.params as { default: { policyWriterRoleArns: { 'Fn::Join': [string, { 'Fn::GetAtt': string[] }[]] } } }).default.policyWriterRoleArns['Fn::Join'];
    expect(join[0]).toBe(',');
    expect(join[1].map((g) => g['Fn::GetAtt'])).toEqual([['PolicySyncRole', 'Arn'], ['PolicyReconcilerRole', 'Arn'], ['PolicyDriftRole', 'Arn']]);
    expect(functionEnvironment(local, 'policyDrift').POLICY_WRITER_ROLE_ARNS?.split(',')).toContain('arn:aws:iam::111122223333:role/trellis-local-policy-sync');
  });
});

describe('the PolicyDriftRole', () => {
  it('is the role of policyDrift', () => {
    expect((dev.raw.functions as Record<string, { role?: string }>).policyDrift?.role).toBe('PolicyDriftRole');
  });

  it("allows exactly the reconciler's actions on the same resources, with its own log group", () => {
    const drift = statementsOf('PolicyDriftRole');
    const reconciler = statementsOf('PolicyReconcilerRole');
    for (const s of drift) expect(s.Effect).toBe('Allow');
    const withoutLogs = (ss: Statement[]) => ss.filter((s) => !actions(s).some((a) => a.startsWith('logs:')));
    expect(withoutLogs(drift)).toEqual(withoutLogs(reconciler));
    const lattice = drift.filter((s) => actions(s).some((a) => a.startsWith('vpc-lattice')));
    expect(lattice.flatMap(actions).sort()).toEqual(['vpc-lattice:GetAuthPolicy', 'vpc-lattice:PutAuthPolicy']);
    expect(lattice.map((s) => s.Resource)).toEqual([[{ 'Fn::GetAtt': ['BillingLatticeService', 'Arn'] }, { 'Fn::GetAtt': ['RatesLatticeService', 'Arn'] }]]);
    expect(drift.flatMap(actions).filter((a) => a.includes('*') || a === 'vpc-lattice:DeleteAuthPolicy' || a === 'vpc-lattice:UpdateService')).toEqual([]);
    expect(drift.map((s) => s.Resource)).not.toContain('*');
    expect(JSON.stringify(drift.filter((s) => actions(s).some((a) => a.startsWith('logs:'))))).toContain('trellis-dev-policyDrift:*');
  });
});
