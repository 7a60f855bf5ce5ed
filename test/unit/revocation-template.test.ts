/**
 * The revocation resources of serverless.yml: the stage's own CA (EC P-256, GENERAL_PURPOSE, its
 * certificate and activation) when caSource is `create`, its CRL bucket (private, ACLs disabled)
 * and the bucket policy that lets ACM Private CA write the CRL; the CRL import's least-privilege
 * role; the rule that drives it (ACM Private CA's CRL Generation event on the default bus); the
 * revocations table and who may read or write it; SvidRevoked driving the policy sync.
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

type Resource = { Type: string; Condition?: string; DependsOn?: unknown; Properties: Record<string, unknown> };
const resources = (dev.raw.resources as { Resources: Record<string, Resource>; Conditions: Record<string, unknown> }).Resources;
const conditions = (dev.raw.resources as { Conditions: Record<string, unknown> }).Conditions;
const resource = (name: string): Resource => {
  const r = resources[name];
  if (r === undefined) throw new Error(`no resource ${name}`);
  return r;
};
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown; Condition?: unknown };
const statementsOf = (role: string): Statement[] =>
  (resource(role).Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the stage CA option', () => {
  it('caSource "create" (condition CreateCa) makes a root CA, EC P-256 / SHA256WITHECDSA, GENERAL_PURPOSE, with a CRL to the stack bucket', () => {
    expect(conditions.CreateCa).toEqual({ 'Fn::Equals': ['existing', 'create'] });
    const ca = resource('TrellisCa');
    expect(ca).toMatchObject({ Type: 'AWS::ACMPCA::CertificateAuthority', Condition: 'CreateCa', DependsOn: 'CrlBucketPolicy' });
    expect(ca.Properties).toMatchObject({
      Type: 'ROOT',
      KeyAlgorithm: 'EC_prime256v1',
      SigningAlgorithm: 'SHA256WITHECDSA',
      UsageMode: 'GENERAL_PURPOSE',
      RevocationConfiguration: { CrlConfiguration: { Enabled: true, S3BucketName: { Ref: 'CrlBucket' }, S3ObjectAcl: 'BUCKET_OWNER_FULL_CONTROL' } },
    });
    expect(resource('TrellisCaCertificate')).toMatchObject({ Type: 'AWS::ACMPCA::Certificate', Condition: 'CreateCa', Properties: { CertificateAuthorityArn: { 'Fn::GetAtt': ['TrellisCa', 'Arn'] }, SigningAlgorithm: 'SHA256WITHECDSA' } });
    expect(resource('TrellisCaActivation')).toMatchObject({
      Type: 'AWS::ACMPCA::CertificateAuthorityActivation',
      Condition: 'CreateCa',
      Properties: { CertificateAuthorityArn: { 'Fn::GetAtt': ['TrellisCa', 'Arn'] }, Certificate: { 'Fn::GetAtt': ['TrellisCaCertificate', 'Certificate'] }, Status: 'ACTIVE' },
    });
  });

  it('otherwise caArn is the existing CA, and every use of the CA (trust anchor included) takes caArn', () => {
    // The activation's Ref is the CA ARN (its primary identifier): users of caArn wait for an ACTIVE CA.
    const caArn = { 'Fn::If': ['CreateCa', { Ref: 'TrellisCaActivation' }, ''] };
    expect(resource('WorkloadTrustAnchor').Properties).toMatchObject({ Source: { SourceType: 'AWS_ACM_PCA', SourceData: { AcmPcaArn: caArn } } });
    const env = (dev.raw.functions as Record<string, { environment: Record<string, unknown> }>).svidIssuer?.environment;
    expect(env?.PCA_CA_ARN).toEqual(caArn);
  });

  it('the CRL bucket is private (public access blocked, ACLs disabled) and only ACM Private CA of this account may write it', () => {
    expect(resource('CrlBucket')).toMatchObject({
      Type: 'AWS::S3::Bucket',
      Condition: 'CreateCa',
      Properties: {
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      },
    });
    const policy = resource('CrlBucketPolicy');
    expect(policy).toMatchObject({ Type: 'AWS::S3::BucketPolicy', Condition: 'CreateCa', Properties: { Bucket: { Ref: 'CrlBucket' } } });
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'acm-pca.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(actions(statements[0] as Statement).sort()).toEqual(['s3:GetBucketAcl', 's3:GetBucketLocation', 's3:PutObject', 's3:PutObjectAcl']);
  });
});

describe('the CRL import', () => {
  it('its role has the four Roles Anywhere CRL calls and GetObject on the CRL objects, nothing else', () => {
    const statements = statementsOf('CrlImportRole');
    const granted = statements.flatMap(actions).sort();
    expect(granted).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'rolesanywhere:EnableCrl', 'rolesanywhere:ImportCrl', 'rolesanywhere:ListCrls', 'rolesanywhere:UpdateCrl', 's3:GetObject']);
    const update = statements.find((s) => actions(s).includes('rolesanywhere:UpdateCrl'));
    expect(JSON.stringify(update?.Resource)).toContain(':crl/*');
    const get = statements.find((s) => actions(s).includes('s3:GetObject'));
    expect(JSON.stringify(get?.Resource)).toContain('/crl/*');
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it('runs on ACM Private CA\'s CRL Generation event (success) on the default bus, with the events DLQ, and imports into the stage trust anchor', () => {
    const rules = ruleDefinitions(local).filter((r) => r.targets.some((t) => t.functionName === 'trellis-local-crlImport'));
    expect(rules).toHaveLength(1);
    const [rule] = rules;
    expect(rule?.eventBusName).toBe('default');
    expect(rule?.targets).toEqual([expect.objectContaining({ deadLetterQueue: 'trellis-local-events-dlq' })]);
    const event = (result: string) => ({
      version: '0',
      id: '1',
      'detail-type': 'ACM Private CA CRL Generation',
      source: 'aws.acm-pca',
      account: '111122223333',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/x', 'arn:aws:s3:::b/crl/x.crl'],
      detail: { result },
    });
    expect(matchesPattern(rule?.pattern, event('success'))).toBe(true);
    expect(matchesPattern(rule?.pattern, event('failure'))).toBe(false);
    const env = functionEnvironment(local, 'crlImport');
    expect(env.CRL_TRUST_ANCHOR_ARN).toBe('arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/00000000-0000-4000-8000-000000000001');
    expect(env.CRL_BUCKET).toBe('trellis-local-crl');
    const devEnv = (dev.raw.functions as Record<string, { environment: Record<string, unknown> }>).crlImport?.environment;
    expect(devEnv?.CRL_TRUST_ANCHOR_ARN).toEqual({ 'Fn::GetAtt': ['WorkloadTrustAnchor', 'TrustAnchorArn'] });
  });
});

describe('revoked certificates in the auth policies', () => {
  it('SvidRevoked drives the policy sync', () => {
    const rules = ruleDefinitions(local).filter((r) => r.targets.some((t) => t.functionName === 'trellis-local-policySync'));
    expect(rules).toHaveLength(1);
    expect((rules[0]?.pattern as { 'detail-type': string[] })['detail-type']).toContain('SvidRevoked');
  });

  it('the revocations table (key serialNumber, TTL backstop) is read by every compiler and written by the sync and the reconcile only', () => {
    expect(resource('RevocationsTable').Properties).toMatchObject({ KeySchema: [{ AttributeName: 'serialNumber', KeyType: 'HASH' }], TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } });
    expect(resource('RevocationsReadPolicy').Properties).toMatchObject({ Roles: [{ Ref: 'GrantsRole' }, { Ref: 'PolicySyncRole' }, { Ref: 'PolicyReconcilerRole' }, { Ref: 'PolicyDriftRole' }] });
    expect(resource('RevocationsWritePolicy').Properties).toMatchObject({ Roles: [{ Ref: 'PolicySyncRole' }, { Ref: 'PolicyReconcilerRole' }] });
    const write = (resource('RevocationsWritePolicy').Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(write.flatMap(actions).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:PutItem']);
  });

  it('the SVID API may revoke at the CA', () => {
    expect(statementsOf('SvidApiRole').flatMap(actions)).toContain('acm-pca:RevokeCertificate');
  });
});
