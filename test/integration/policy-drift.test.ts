/**
 * Drift repaired in seconds, on the in-process stack with the local Lattice control plane's
 * CloudTrail events delivered to the default bus: a policy changed or removed with the AWS SDK by
 * someone else is back to the compilation of the grants once the bus has delivered the event, with
 * one PolicyDriftRepaired per repair; Trellis's own writes (the sync's, the repair's) reach the rule
 * too and trigger nothing (no loop). Outcomes are asserted, not timings.
 */
import { DeleteAuthPolicyCommand, PutAuthPolicyCommand, UpdateServiceCommand, VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDERS, REVIEWS, startHarness, type Harness } from './grants-harness';

let h: Harness;
/** A person with the AWS SDK: any access key but the local functions' one is an IAM user in the CloudTrail events. */
let operator: VPCLatticeClient;

beforeAll(async () => {
  h = await startHarness({ cloudTrail: true });
  operator = new VPCLatticeClient({ endpoint: h.stack.standIns.lattice.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIAOPERATOR', secretAccessKey: 'x' }, maxAttempts: 1 });
  for (const service of ['billing', 'rates']) {
    const res = await h.api({ method: 'POST', resource: '/grants', body: { service, caller: ORDERS } });
    expect(res.status).toBe(201);
  }
  await h.stack.bus.waitForIdle(15_000);
});
afterAll(async () => {
  expect(h?.stack.bus.deadLetters()).toEqual([]);
  operator?.destroy();
  await h?.stop();
});

const cloudTrailEvents = () => h.stack.bus.events().filter((e) => e.source === 'aws.vpc-lattice');
const driftInvocations = () => h.stack.invocations.filter((i) => i.functionKey === 'policyDrift').length;

describe('drift repair on CloudTrail events', () => {
  it("Trellis's own sync reaches the rule as its role's call and triggers no reconcile", async () => {
    const arn = h.arnOf('billing');
    expect(await h.appliedPolicy('billing')).toBe(h.expectedPolicy('billing', [{ caller: ORDERS }]));
    const own = cloudTrailEvents().filter((e) => e.detail.eventName === 'PutAuthPolicy');
    expect(own.length).toBeGreaterThan(0);
    const billing = own.find((e) => (e.detail.requestParameters as { resourceIdentifier?: string }).resourceIdentifier === arn);
    expect(billing?.detail).toMatchObject({
      eventSource: 'vpc-lattice.amazonaws.com',
      requestParameters: { resourceIdentifier: arn },
      userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/trellis-local-policy-sync' } } },
    });
    expect(driftInvocations()).toBe(own.length);
    expect(await h.events('PolicyDriftRepaired')).toEqual([]);
    // what the function made of it: not a reconcile at all
    expect(await h.stack.invoke('policyDrift', billing)).toEqual({ decision: { action: 'ignore', reason: 'trellis-call', caller: 'arn:aws:iam::111122223333:role/trellis-local-policy-sync' } });
  });

  it('puts back the compiled policy after a PutAuthPolicy with another policy, announcing it once', async () => {
    const arn = h.arnOf('billing');
    const expected = h.expectedPolicy('billing', [{ caller: ORDERS }]);
    const foreign = h.expectedPolicy('billing', [{ caller: ORDERS }, { caller: REVIEWS }]);
    const putsBefore = h.stack.standIns.lattice.store.putCount(arn);
    await operator.send(new PutAuthPolicyCommand({ resourceIdentifier: arn, policy: foreign }));

    const repaired = await h.events('PolicyDriftRepaired');
    expect(await h.appliedPolicy('billing')).toBe(expected);
    expect(repaired).toHaveLength(1);
    expect(repaired[0]).toMatchObject({ service: 'billing', serviceArn: arn, found: 'changed-outside-trellis', previousBytes: Buffer.byteLength(foreign) });
    // the operator's put and the repair's put; the repair's own CloudTrail event did not start another
    expect(h.stack.standIns.lattice.store.putCount(arn)).toBe(putsBefore + 2);
    const user = cloudTrailEvents().find((e) => (e.detail.userIdentity as { type?: string }).type === 'IAMUser');
    expect(user?.detail).toMatchObject({ eventName: 'PutAuthPolicy', userIdentity: { arn: 'arn:aws:iam::111122223333:user/local-user', accessKeyId: 'AKIAOPERATOR' } });
  });

  it('puts back a policy deleted with DeleteAuthPolicy, the service named by id', async () => {
    const arn = h.arnOf('billing');
    const before = (await h.events('PolicyDriftRepaired')).length;
    await operator.send(new DeleteAuthPolicyCommand({ resourceIdentifier: arn.slice(arn.lastIndexOf('/') + 1) }));

    const repaired = (await h.events('PolicyDriftRepaired')).slice(before);
    expect(await h.appliedPolicy('billing')).toBe(h.expectedPolicy('billing', [{ caller: ORDERS }]));
    expect(repaired).toEqual([expect.objectContaining({ service: 'billing', found: 'missing', previousPolicySha256: null })]);
  });

  it("reconciles on UpdateService; a policy left as it was needs no repair (the auth type is not Trellis's to revert)", async () => {
    const arn = h.arnOf('rates');
    const expected = h.expectedPolicy('rates', [{ caller: ORDERS }]);
    expect(await h.appliedPolicy('rates')).toBe(expected);
    const before = (await h.events('PolicyDriftRepaired')).length;
    const invoked = driftInvocations();
    const puts = h.stack.standIns.lattice.store.putCount(arn);
    await operator.send(new UpdateServiceCommand({ serviceIdentifier: arn, authType: 'NONE' }));
    await h.stack.bus.waitForIdle(15_000);
    expect(driftInvocations()).toBe(invoked + 1);
    expect(h.stack.standIns.lattice.store.putCount(arn)).toBe(puts);
    expect(await h.appliedPolicy('rates')).toBe(expected);
    expect((await h.events('PolicyDriftRepaired')).slice(before)).toEqual([]);
    expect(h.stack.standIns.lattice.store.getService(arn)?.authType).toBe('NONE');
    await operator.send(new UpdateServiceCommand({ serviceIdentifier: arn, authType: 'AWS_IAM' }));
  });
});
