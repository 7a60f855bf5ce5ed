/**
 * The drift trigger's reading of CloudTrail events: Trellis's own calls are told from everyone
 * else's (assumed roles by their session issuer, IAM users and root by their own ARN, which has no
 * sessionContext at all), and the identifier (id or ARN) is mapped to the managed service.
 * Event shapes as in the CloudTrail user guide's userIdentity examples (docs/aws-behaviour.md).
 */
import { describe, expect, it } from 'vitest';
import type { StoredService } from '../../shared/grants/model';
import { callerOf, decideDrift, identifierOf, isTrellisCall, managedServiceOf } from '../../shared/policy-sync/drift-trigger';

const ACCOUNT = '123456789012';
const SYNC_ROLE = `arn:aws:iam::${ACCOUNT}:role/trellis-prod-PolicySyncRole-ABC123`;
const RECONCILER_ROLE = `arn:aws:iam::${ACCOUNT}:role/trellis-prod-PolicyReconcilerRole-DEF456`;
const WRITERS = [SYNC_ROLE, RECONCILER_ROLE];
const BILLING_ID = 'svc-0123456789abcdef0';
const BILLING_ARN = `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/${BILLING_ID}`;
const RATES_ARN = `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-0fedcba9876543210`;
const services = [{ name: 'billing', arn: BILLING_ARN }, { name: 'rates', arn: RATES_ARN }] as unknown as StoredService[];

const assumedRole = (roleArn: string, session = 'trellis-prod-policySync') => {
  const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLE:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: 'ASIAEXAMPLE',
    sessionContext: { sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLE', arn: roleArn, accountId: ACCOUNT, userName: roleName }, attributes: { mfaAuthenticated: 'false', creationDate: '2025-01-01T00:00:00Z' } },
  };
};
const iamUser = { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:user/Alice`, accountId: ACCOUNT, accessKeyId: 'AKIAEXAMPLE', userName: 'Alice' };
const root = { type: 'Root', principalId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: 'AKIAROOT' };

const detail = (eventName: string, userIdentity: unknown, requestParameters: unknown, extra: Record<string, unknown> = {}) => ({
  eventVersion: '1.09',
  userIdentity,
  eventSource: 'vpc-lattice.amazonaws.com',
  eventName,
  awsRegion: 'us-east-1',
  requestParameters,
  responseElements: null,
  ...extra,
});

describe('who made the call', () => {
  it('is the session issuer for an assumed role, the principal ARN otherwise', () => {
    expect(callerOf(assumedRole(SYNC_ROLE))).toBe(SYNC_ROLE);
    expect(callerOf(iamUser)).toBe(iamUser.arn);
    expect(callerOf(root)).toBe(root.arn);
    expect(callerOf(undefined)).toBeUndefined();
    expect(callerOf({ type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' })).toBeUndefined();
  });

  it("is Trellis only for a session of one of the writer roles — not for another session whose name looks alike, a user, or no identity", () => {
    expect(isTrellisCall(assumedRole(SYNC_ROLE), WRITERS)).toBe(true);
    expect(isTrellisCall(assumedRole(RECONCILER_ROLE, 'any-session'), WRITERS)).toBe(true);
    expect(isTrellisCall(assumedRole(`arn:aws:iam::${ACCOUNT}:role/developer`, 'trellis-prod-policySync'), WRITERS)).toBe(false);
    expect(isTrellisCall(iamUser, WRITERS)).toBe(false);
    expect(isTrellisCall(root, WRITERS)).toBe(false);
    expect(isTrellisCall(undefined, WRITERS)).toBe(false);
  });
});

describe('which managed service the call touched', () => {
  it('reads resourceIdentifier (auth policy calls) or serviceIdentifier (UpdateService)', () => {
    expect(identifierOf({ resourceIdentifier: BILLING_ARN })).toBe(BILLING_ARN);
    expect(identifierOf({ serviceIdentifier: BILLING_ID, authType: 'NONE' })).toBe(BILLING_ID);
    expect(identifierOf({})).toBeUndefined();
    expect(identifierOf(null)).toBeUndefined();
  });

  it('maps an ARN exactly and an id by the ARN it ends', () => {
    expect(managedServiceOf(BILLING_ARN, services)?.name).toBe('billing');
    expect(managedServiceOf(BILLING_ID, services)?.name).toBe('billing');
    expect(managedServiceOf(RATES_ARN, services)?.name).toBe('rates');
    // same id in another account or region: not ours
    expect(managedServiceOf(BILLING_ARN.replace(ACCOUNT, '999999999999'), services)).toBeUndefined();
    expect(managedServiceOf('svc-00000000000000000', services)).toBeUndefined();
    expect(managedServiceOf('sn-0123456789abcdef0', services)).toBeUndefined();
    expect(managedServiceOf(`arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:servicenetwork/sn-0123456789abcdef0`, services)).toBeUndefined();
  });
});

describe('decideDrift', () => {
  it('reconciles the service of a PutAuthPolicy, DeleteAuthPolicy or UpdateService by anyone but Trellis', () => {
    expect(decideDrift(detail('PutAuthPolicy', iamUser, { resourceIdentifier: BILLING_ARN }), services, WRITERS)).toMatchObject({ action: 'reconcile', service: { name: 'billing' }, eventName: 'PutAuthPolicy', caller: iamUser.arn });
    expect(decideDrift(detail('DeleteAuthPolicy', root, { resourceIdentifier: BILLING_ID }), services, WRITERS)).toMatchObject({ action: 'reconcile', service: { name: 'billing' } });
    expect(decideDrift(detail('UpdateService', assumedRole(`arn:aws:iam::${ACCOUNT}:role/admin`), { serviceIdentifier: RATES_ARN, authType: 'NONE' }), services, WRITERS)).toMatchObject({ action: 'reconcile', service: { name: 'rates' }, eventName: 'UpdateService' });
  });

  it("ignores Trellis's own calls (no loop), failed calls, other operations and unmanaged resources", () => {
    expect(decideDrift(detail('PutAuthPolicy', assumedRole(SYNC_ROLE), { resourceIdentifier: BILLING_ARN }), services, WRITERS)).toEqual({ action: 'ignore', reason: 'trellis-call', caller: SYNC_ROLE });
    expect(decideDrift(detail('PutAuthPolicy', assumedRole(RECONCILER_ROLE), { resourceIdentifier: BILLING_ARN }), services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'trellis-call' });
    expect(decideDrift(detail('PutAuthPolicy', iamUser, { resourceIdentifier: BILLING_ARN }, { errorCode: 'AccessDenied' }), services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'failed-call' });
    expect(decideDrift(detail('GetAuthPolicy', iamUser, { resourceIdentifier: BILLING_ARN }), services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'not-a-drift-call' });
    expect(decideDrift({ ...detail('PutAuthPolicy', iamUser, { resourceIdentifier: BILLING_ARN }), eventSource: 'iam.amazonaws.com' }, services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'not-a-drift-call' });
    expect(decideDrift(detail('PutAuthPolicy', iamUser, { resourceIdentifier: 'sn-0123456789abcdef0' }), services, WRITERS)).toEqual({ action: 'ignore', reason: 'unmanaged-resource', identifier: 'sn-0123456789abcdef0' });
    expect(decideDrift(detail('PutAuthPolicy', iamUser, {}), services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'no-identifier' });
    expect(decideDrift('nonsense', services, WRITERS)).toMatchObject({ action: 'ignore', reason: 'not-a-drift-call' });
  });
});
