/**
 * Shared by the grants and policy-sync tests: the in-process stack, API calls checked against
 * docs/openapi.yaml, the events on the bus and a real VPC Lattice SDK client on the local control plane.
 */
import { GetAuthPolicyCommand, VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { expect } from 'vitest';
import { LOCAL_IDENTITY } from '../../local/stand-ins';
import type { EventDetail, DetailType } from '../../shared/events/catalog';
import { compilePolicy, type Grant as CompilerGrant } from '../../shared/policy/compiler';
import { startInProcessStack, type InProcessOptions, type InProcessStack } from '../support/in-process-stack';
import { apiEvent, parseResult, type ApiCall, type ApiResult } from '../support/api-events';
import { expectDocumentedResponse } from '../support/openapi';

export const ADMIN = 'arn:aws:iam::111122223333:user/trellis-local-admin';
export const NOT_ADMIN = 'arn:aws:sts::111122223333:assumed-role/developer/alice';
export const ORDERS = 'spiffe://example.org/service/orders';
export const REVIEWS = 'spiffe://example.org/service/reviews';

export type ErrorBody = { error: { code: string; message: string; details?: { field: string; rule: string; message: string }[] } };

export interface Harness {
  stack: InProcessStack;
  lattice: VPCLatticeClient;
  /** Calls the grants function and checks the response against the OpenAPI document. */
  api(call: ApiCall): Promise<ApiResult>;
  /** Events of a detail-type on the bus, details parsed, after the bus is idle. */
  events<T extends DetailType>(detailType: T): Promise<EventDetail<T>[]>;
  arnOf(name: string): string;
  /** Creates a Lattice service (AWS_IAM) in the local control plane and registers it with Trellis. */
  addService(name: string): Promise<string>;
  /** The policy Lattice has, read through the SDK (undefined when none). */
  appliedPolicy(name: string): Promise<string | undefined>;
  /** What the compiler makes of these grants for the service (the local stage's role and trust domain). */
  expectedPolicy(name: string, grants: readonly Omit<CompilerGrant, 'id'>[]): string;
  stop(): Promise<void>;
}

export async function startHarness(options: InProcessOptions = {}): Promise<Harness> {
  const stack = await startInProcessStack(options);
  const lattice = new VPCLatticeClient({
    endpoint: stack.standIns.lattice.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const arnOf = (name: string): string => {
    const service = stack.standIns.lattice.store.getServiceByName(name);
    if (!service) throw new Error(`no local Lattice service ${name}`);
    return service.arn;
  };
  const api = async (call: ApiCall): Promise<ApiResult> => {
    const res = parseResult(await stack.invoke('grants', apiEvent({ callerArn: ADMIN, ...call })));
    expectDocumentedResponse(call.method, call.resource, res.status, res.body);
    return res;
  };
  return {
    stack,
    lattice,
    api,
    arnOf,
    async events<T extends DetailType>(detailType: T): Promise<EventDetail<T>[]> {
      await stack.bus.waitForIdle(15_000);
      return stack.bus
        .events()
        .filter((e) => e['detail-type'] === detailType)
        .map((e) => e.detail as unknown as EventDetail<T>);
    },
    async addService(name: string): Promise<string> {
      const created = stack.standIns.lattice.store.createService({ name, authType: 'AWS_IAM' });
      const res = await api({ method: 'PUT', resource: '/services/{name}', path: { name }, body: { arn: created.service.arn } });
      expect(res.status).toBe(201);
      return created.service.arn;
    },
    async appliedPolicy(name: string): Promise<string | undefined> {
      const out = await lattice.send(new GetAuthPolicyCommand({ resourceIdentifier: arnOf(name) }));
      return out.policy;
    },
    expectedPolicy(name, grants) {
      return compilePolicy(
        grants.map((g, i) => ({ ...g, id: `g${i}` })),
        { serviceArn: arnOf(name), principalArn: LOCAL_IDENTITY.workloadRoleArn, trustDomain: 'example.org' },
      ).policy;
    },
    async stop() {
      lattice.destroy();
      await stack.stop();
    },
  };
}
