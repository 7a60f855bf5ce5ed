import {
  CreateServiceCommand,
  DeleteAuthPolicyCommand,
  GetAuthPolicyCommand,
  GetServiceCommand,
  ListServicesCommand,
  paginateListServices,
  PutAuthPolicyCommand,
  UpdateServiceCommand,
  VPCLatticeClient,
} from '@aws-sdk/client-vpc-lattice';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatticeControlPlane, type LatticeEmulator, type LatticeEmulatorOptions } from '../../local/lattice/control-plane';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const SERVICE_ID = /^svc-[0-9a-f]{17}$/;

interface Harness {
  emulator: LatticeEmulator;
  client: VPCLatticeClient;
  close(): Promise<void>;
}

const open = async (options: LatticeEmulatorOptions = {}): Promise<Harness> => {
  const emulator = await startLatticeControlPlane(options);
  const client = new VPCLatticeClient({
    endpoint: emulator.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
  return {
    emulator,
    client,
    close: async () => {
      client.destroy();
      await emulator.stop();
    },
  };
};

const serviceOf = (h: Harness, name: string): { id: string; arn: string } => {
  const service = h.emulator.store.getServiceByName(name);
  if (service === undefined) throw new Error(`no service ${name}`);
  return service;
};

const invokePolicy = (serviceArn: string, role: string): string =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/${role}` },
        Action: 'vpc-lattice-svcs:Invoke',
        Resource: `${serviceArn}/*`,
      },
    ],
  });

/** A valid one-line JSON policy of exactly `bytes` UTF-8 bytes, padded with `fill` (1 or 2 bytes per char). */
const policyOfBytes = (bytes: number, fill = 'a'): string => {
  const empty = JSON.stringify({ Version: '2012-10-17', Statement: [], Padding: '' });
  const fillBytes = Buffer.byteLength(fill);
  const room = bytes - empty.length;
  const text = JSON.stringify({ Version: '2012-10-17', Statement: [], Padding: fill.repeat(Math.floor(room / fillBytes)) + 'a'.repeat(room % fillBytes) });
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
};

describe('Lattice control plane: pre-created services', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists billing and rates, ACTIVE, without authType in the summaries', async () => {
    const out = await h.client.send(new ListServicesCommand({}));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.nextToken).toBeUndefined();
    expect(out.items?.map((s) => s.name)).toEqual(['billing', 'rates']);
    for (const item of out.items ?? []) {
      expect(item.id).toMatch(SERVICE_ID);
      expect(item.arn).toBe(`arn:aws:vpc-lattice:${REGION}:${ACCOUNT}:service/${item.id}`);
      expect(item.status).toBe('ACTIVE');
      expect(item.createdAt).toBeInstanceOf(Date);
      expect(item.lastUpdatedAt).toBeInstanceOf(Date);
      expect(item).not.toHaveProperty('authType');
      expect(item.dnsEntry?.domainName).toMatch(
        new RegExp(`^${item.name}-${item.id?.slice(4)}\\.[0-9a-f]{7}\\.vpc-lattice-svcs\\.${REGION}\\.on\\.aws$`),
      );
      expect(item.dnsEntry?.hostedZoneId).toMatch(/^Z[0-9A-Z]{20}$/);
    }
  });

  it('gets a service by id and by ARN, with authType AWS_IAM', async () => {
    const billing = serviceOf(h, 'billing');
    const byId = await h.client.send(new GetServiceCommand({ serviceIdentifier: billing.id }));
    const byArn = await h.client.send(new GetServiceCommand({ serviceIdentifier: billing.arn }));
    const { $metadata: _a, ...idFields } = byId;
    const { $metadata: _b, ...arnFields } = byArn;
    expect(idFields).toEqual(arnFields);
    expect(byId).toMatchObject({ id: billing.id, arn: billing.arn, name: 'billing', authType: 'AWS_IAM', status: 'ACTIVE' });
    expect(byId.createdAt).toBeInstanceOf(Date);
    expect(byId.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('derives ids from (name, account): a restart keeps them, another account changes them', async () => {
    const again = await open();
    const otherAccount = await open({ accountId: '444455556666', services: ['billing'] });
    try {
      expect(again.emulator.store.getServiceByName('billing')?.id).toBe(serviceOf(h, 'billing').id);
      expect(again.emulator.store.getServiceByName('rates')?.id).toBe(serviceOf(h, 'rates').id);
      const other = otherAccount.emulator.store.getServiceByName('billing');
      expect(other?.id).toMatch(SERVICE_ID);
      expect(other?.id).not.toBe(serviceOf(h, 'billing').id);
      expect(other?.arn).toBe(`arn:aws:vpc-lattice:${REGION}:444455556666:service/${other?.id}`);
      expect(otherAccount.emulator.store.listServices().map((s) => s.name)).toEqual(['billing']);
    } finally {
      await again.close();
      await otherAccount.close();
    }
  });

  it('answers ResourceNotFoundException with resourceId and resourceType for an unknown service', async () => {
    await expect(h.client.send(new GetServiceCommand({ serviceIdentifier: 'svc-00000000000000000' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
      resourceId: 'svc-00000000000000000',
      resourceType: 'SERVICE',
    });
    // Right id, wrong account in the ARN: not this account's service.
    const foreignArn = `arn:aws:vpc-lattice:${REGION}:999999999999:service/${serviceOf(h, 'billing').id}`;
    await expect(h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: foreignArn }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
      resourceId: foreignArn,
      resourceType: 'SERVICE',
    });
    await expect(h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: 'sn-0123456789abcdef0', policy: '{}' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      resourceId: 'sn-0123456789abcdef0',
      resourceType: 'SERVICE_NETWORK',
    });
  });

  it('answers ValidationException for a malformed service identifier', async () => {
    await expect(h.client.send(new GetServiceCommand({ serviceIdentifier: 'billing-service-by-name' }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
      reason: 'fieldValidationFailed',
      fieldList: [{ name: 'serviceIdentifier', message: expect.stringContaining('svc-') }],
    });
  });
});

describe('Lattice control plane: auth policies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers an empty 200 for GetAuthPolicy before any policy is set', async () => {
    const rates = serviceOf(h, 'rates');
    const out = await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: rates.id }));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.policy).toBeUndefined();
    expect(out.state).toBeUndefined();
    expect(h.emulator.store.getAuthPolicy(rates.id)).toBeUndefined();
  });

  it('puts by id, gets by ARN: same policy, state Active, ISO timestamps', async () => {
    const billing = serviceOf(h, 'billing');
    const policy = invokePolicy(billing.arn, 'payments');
    const put = await h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: billing.id, policy }));
    expect(put).toMatchObject({ policy, state: 'Active', $metadata: { httpStatusCode: 200 } });

    const got = await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: billing.arn }));
    expect(got).toMatchObject({ policy, state: 'Active' });
    expect(got.createdAt).toBeInstanceOf(Date);
    expect(got.lastUpdatedAt?.getTime()).toBe(got.createdAt?.getTime());
    expect(h.emulator.store.getAuthPolicy(billing.arn)).toMatchObject({ policy, version: 1, state: 'Active' });
    expect(h.emulator.store.putCount(billing.id)).toBe(1);
  });

  it('puts by ARN (sent percent-encoded) onto the same resource, counting each Put', async () => {
    const billing = serviceOf(h, 'billing');
    const policy = invokePolicy(billing.arn, 'ledger');
    const put = await h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: billing.arn, policy }));
    expect(put).toMatchObject({ policy, state: 'Active' });
    expect(h.emulator.store.getAuthPolicy(billing.id)).toMatchObject({ policy, version: 2 });
    expect(h.emulator.store.putCount(billing.arn)).toBe(2);
    const got = await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: billing.id }));
    expect(got.policy).toBe(policy);
    expect(got.lastUpdatedAt!.getTime()).toBeGreaterThanOrEqual(got.createdAt!.getTime());
  });

  it('reports Inactive after UpdateService to NONE, and Active again after AWS_IAM', async () => {
    const billing = serviceOf(h, 'billing');
    const update = await h.client.send(new UpdateServiceCommand({ serviceIdentifier: billing.arn, authType: 'NONE' }));
    const { $metadata, ...shape } = update;
    expect($metadata.httpStatusCode).toBe(200);
    expect(shape).toEqual({ id: billing.id, arn: billing.arn, name: 'billing', authType: 'NONE' });
    expect((await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: billing.id }))).state).toBe('Inactive');
    expect(h.emulator.store.getAuthPolicy(billing.id)?.state).toBe('Inactive');
    expect((await h.client.send(new GetServiceCommand({ serviceIdentifier: billing.id }))).authType).toBe('NONE');

    await h.client.send(new UpdateServiceCommand({ serviceIdentifier: billing.id, authType: 'AWS_IAM' }));
    expect((await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: billing.arn }))).state).toBe('Active');
  });

  it('returns certificateArn from UpdateService', async () => {
    const rates = serviceOf(h, 'rates');
    const certificateArn = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0b1f56d2-6672-4bf6-77aa-0123456789ab`;
    const update = await h.client.send(new UpdateServiceCommand({ serviceIdentifier: rates.id, certificateArn }));
    expect(update).toMatchObject({ id: rates.id, certificateArn, authType: 'AWS_IAM' });
    await expect(h.client.send(new UpdateServiceCommand({ serviceIdentifier: rates.id, authType: 'OPEN' as 'NONE' }))).rejects.toMatchObject({
      name: 'ValidationException',
      reason: 'fieldValidationFailed',
      fieldList: [{ name: 'authType', message: expect.stringContaining('NONE, AWS_IAM') }],
    });
  });

  it('deletes with 204; the policy is gone but its version moves on', async () => {
    const billing = serviceOf(h, 'billing');
    const before = h.emulator.store.policyVersion(billing.id);
    const out = await h.client.send(new DeleteAuthPolicyCommand({ resourceIdentifier: billing.arn }));
    expect(out.$metadata.httpStatusCode).toBe(204);
    expect(h.emulator.store.getAuthPolicy(billing.id)).toBeUndefined();
    expect(h.emulator.store.policyVersion(billing.id)).toBe(before + 1);
    const got = await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: billing.id }));
    expect(got.policy).toBeUndefined();
    await expect(h.client.send(new DeleteAuthPolicyCommand({ resourceIdentifier: 'svc-00000000000000000' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('lets local code change a policy out of band without counting a Put', async () => {
    const rates = serviceOf(h, 'rates');
    await h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: rates.id, policy: invokePolicy(rates.arn, 'a') }));
    const drifted = invokePolicy(rates.arn, 'intruder');
    h.emulator.store.setAuthPolicyOutOfBand(rates.arn, drifted);
    expect(h.emulator.store.putCount(rates.id)).toBe(1);
    expect(h.emulator.store.getAuthPolicy(rates.id)).toMatchObject({ policy: drifted, version: 2 });
    expect((await h.client.send(new GetAuthPolicyCommand({ resourceIdentifier: rates.id }))).policy).toBe(drifted);
    h.emulator.store.setAuthPolicyOutOfBand(rates.id, null);
    expect(h.emulator.store.getAuthPolicy(rates.id)).toBeUndefined();
    expect(() => h.emulator.store.setAuthPolicyOutOfBand('svc-00000000000000000', '{}')).toThrow(/svc-00000000000000000/);
  });
});

describe('Lattice control plane: auth policy validation', () => {
  let h: Harness;
  let billingId: string;
  beforeAll(async () => {
    h = await open();
    billingId = serviceOf(h, 'billing').id;
  });
  afterAll(async () => {
    await h.close();
  });

  const putFails = async (resourceIdentifier: string, policy: string, field: string, message: RegExp): Promise<void> => {
    await expect(h.client.send(new PutAuthPolicyCommand({ resourceIdentifier, policy }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
      reason: 'fieldValidationFailed',
      fieldList: [{ name: field, message: expect.stringMatching(message) }],
    });
  };

  it('rejects a policy with a newline', async () => {
    await putFails(billingId, JSON.stringify({ Version: '2012-10-17', Statement: [] }, null, 2), 'policy', /newline/);
    await putFails(billingId, '{"Version":"2012-10-17",\r"Statement":[]}', 'policy', /newline/);
  });

  it('rejects a policy that is not JSON, or not a JSON object', async () => {
    await putFails(billingId, '{"Version":"2012-10-17","Statement":[', 'policy', /not valid JSON/);
    await putFails(billingId, '', 'policy', /not valid JSON/);
    await putFails(billingId, '["Allow"]', 'policy', /JSON object/);
  });

  it('accepts exactly 10,000 bytes and rejects 10,001 (UTF-8 bytes, not characters)', async () => {
    const atLimit = policyOfBytes(10_000);
    await expect(h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: billingId, policy: atLimit }))).resolves.toMatchObject({
      policy: atLimit,
    });
    await putFails(billingId, policyOfBytes(10_001), 'policy', /10001 bytes.*quota of 10000 bytes/);
    const wide = policyOfBytes(10_002, 'é');
    expect(wide.length).toBeLessThan(10_000);
    await putFails(billingId, wide, 'policy', /10002 bytes/);
    expect(h.emulator.store.putCount(billingId)).toBe(1);
  });

  it('applies the model limit of 36,864 characters on its own', async () => {
    const big = await open({ maxPolicyBytes: 100_000 });
    try {
      const id = serviceOf(big, 'billing').id;
      const atMax = policyOfBytes(36_864);
      await expect(big.client.send(new PutAuthPolicyCommand({ resourceIdentifier: id, policy: atMax }))).resolves.toMatchObject({ state: 'Active' });
      await expect(big.client.send(new PutAuthPolicyCommand({ resourceIdentifier: id, policy: policyOfBytes(36_865) }))).rejects.toMatchObject({
        name: 'ValidationException',
        reason: 'fieldValidationFailed',
        fieldList: [{ name: 'policy', message: 'Member must have length between 0 and 36864' }],
      });
    } finally {
      await big.close();
    }
  });

  it('rejects resource identifiers that break the pattern', async () => {
    const policy = '{"Version":"2012-10-17","Statement":[]}';
    for (const bad of [
      'svc-123', // too short
      'svc-0123456789ABCDEF0', // upper case
      'tg-0123456789abcdef01', // not a policy resource type
      `arn:aws:vpc-lattice:${REGION}:${ACCOUNT}:targetgroup/tg-0123456789abcdef0`,
      `arn:aws:vpc-lattice:${REGION}:${ACCOUNT}:service/svc-0123456789abcdef`, // 16 chars
      `${'x'.repeat(190)}svc-0123456789abcdef0`, // over 200
    ]) {
      await putFails(bad, policy, 'resourceIdentifier', /./);
    }
  });

  it('reports every failing member in one fieldList', async () => {
    await expect(h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: 'svc-1', policy: '{\n}' }))).rejects.toMatchObject({
      name: 'ValidationException',
      reason: 'fieldValidationFailed',
      fieldList: [
        { name: 'resourceIdentifier', message: 'Member must have length between 17 and 200' },
        { name: 'policy', message: 'The policy must not contain newlines or blank lines' },
      ],
    });
  });
});

describe('Lattice control plane: CreateService', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h.close();
  });

  it('creates a service with 201, authType NONE by default, and a deterministic id', async () => {
    const out = await h.client.send(new CreateServiceCommand({ name: 'orders' }));
    expect(out.$metadata.httpStatusCode).toBe(201);
    expect(out).toMatchObject({ name: 'orders', status: 'ACTIVE', authType: 'NONE' });
    expect(out.id).toMatch(SERVICE_ID);
    expect(out.arn).toBe(`arn:aws:vpc-lattice:${REGION}:${ACCOUNT}:service/${out.id}`);
    expect(out.dnsEntry?.domainName).toBe(h.emulator.store.getService(out.id!)?.dnsEntry.domainName);
    const again = await open({ services: ['orders'] });
    try {
      expect(again.emulator.store.getServiceByName('orders')?.id).toBe(out.id);
    } finally {
      await again.close();
    }
    // A Put on a NONE service is stored but Inactive.
    const put = await h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: out.id, policy: '{"Version":"2012-10-17","Statement":[]}' }));
    expect(put.state).toBe('Inactive');
  });

  it('answers ConflictException 409 for a name in use', async () => {
    const billing = serviceOf(h, 'billing');
    await expect(h.client.send(new CreateServiceCommand({ name: 'billing', authType: 'AWS_IAM' }))).rejects.toMatchObject({
      name: 'ConflictException',
      $metadata: { httpStatusCode: 409 },
      resourceId: billing.id,
      resourceType: 'SERVICE',
    });
  });

  it('returns the same service for a retry with the same clientToken', async () => {
    const clientToken = 'c0ffee00-0000-4000-8000-000000000001';
    const first = await h.client.send(new CreateServiceCommand({ name: 'inventory', authType: 'AWS_IAM', clientToken }));
    const retry = await h.client.send(new CreateServiceCommand({ name: 'inventory', authType: 'AWS_IAM', clientToken }));
    expect(retry.$metadata.httpStatusCode).toBe(201);
    expect(retry.id).toBe(first.id);
    expect(h.emulator.store.listServices().filter((s) => s.name === 'inventory')).toHaveLength(1);
    await expect(h.client.send(new CreateServiceCommand({ name: 'inventory', authType: 'AWS_IAM' }))).rejects.toMatchObject({
      name: 'ConflictException',
      resourceId: first.id,
    });
    await expect(h.client.send(new CreateServiceCommand({ name: 'inventory', authType: 'NONE', clientToken }))).rejects.toMatchObject({
      name: 'ConflictException',
      message: expect.stringContaining('client token'),
    });
  });

  it('rejects bad service names', async () => {
    for (const name of ['svc-orders', '-orders', 'orders-', 'ord--ers', 'ab', 'x'.repeat(41), 'Orders', 'orders_v2']) {
      await expect(h.client.send(new CreateServiceCommand({ name }))).rejects.toMatchObject({
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 },
        reason: 'fieldValidationFailed',
        fieldList: [{ name: 'name', message: expect.any(String) }],
      });
    }
    expect(h.emulator.store.listServices().map((s) => s.name)).not.toContain('Orders');
  });

  it('rejects an unknown authType and a malformed certificate ARN together', async () => {
    await expect(
      h.client.send(new CreateServiceCommand({ name: 'payments', authType: 'MTLS' as 'NONE', certificateArn: 'not-an-arn' })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      reason: 'fieldValidationFailed',
      fieldList: [
        { name: 'authType', message: expect.any(String) },
        { name: 'certificateArn', message: expect.any(String) },
      ],
    });
  });
});

describe('Lattice control plane: ListServices pagination', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await open({ services: ['billing', 'rates', 'orders', 'ledger'] });
  });
  afterAll(async () => {
    await h.close();
  });

  it('pages one service at a time with an opaque nextToken', async () => {
    const pages: string[][] = [];
    const tokens: string[] = [];
    for await (const page of paginateListServices({ client: h.client, pageSize: 1 }, {})) {
      pages.push((page.items ?? []).map((s) => s.name ?? ''));
      if (page.nextToken !== undefined) tokens.push(page.nextToken);
    }
    expect(pages).toEqual([['billing'], ['rates'], ['orders'], ['ledger']]);
    expect(tokens).toHaveLength(3);
    for (const token of tokens) expect(token).not.toMatch(/billing|rates|orders|ledger|svc-/);
  });

  it('returns the rest of the list from a token, and rejects a forged token', async () => {
    const first = await h.client.send(new ListServicesCommand({ maxResults: 3 }));
    expect(first.items).toHaveLength(3);
    const rest = await h.client.send(new ListServicesCommand({ maxResults: 3, nextToken: first.nextToken }));
    expect(rest.items?.map((s) => s.name)).toEqual(['ledger']);
    expect(rest.nextToken).toBeUndefined();
    await expect(h.client.send(new ListServicesCommand({ nextToken: 'not-a-token' }))).rejects.toMatchObject({
      name: 'ValidationException',
      reason: 'fieldValidationFailed',
      fieldList: [{ name: 'nextToken', message: expect.any(String) }],
    });
  });

  it('rejects maxResults outside 1-100', async () => {
    for (const maxResults of [0, 101]) {
      await expect(h.client.send(new ListServicesCommand({ maxResults }))).rejects.toMatchObject({
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 },
        reason: 'fieldValidationFailed',
        fieldList: [{ name: 'maxResults', message: 'Member must be between 1 and 100' }],
      });
    }
  });
});

describe('Lattice control plane: wire details', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers an unknown route with ValidationException reason unknownOperation, header and request id', async () => {
    for (const [method, path] of [
      ['GET', '/servicenetworks'],
      ['POST', '/authpolicy/svc-0123456789abcdef0'],
      ['DELETE', '/services/svc-0123456789abcdef0/extra'],
    ] as const) {
      const res = await fetch(`${h.emulator.endpoint}${path}`, { method });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
      expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.json()).toEqual({ message: `No operation matches ${method} ${path}`, reason: 'unknownOperation' });
    }
  });

  it('decodes percent-encoded labels before matching', async () => {
    const billing = serviceOf(h, 'billing');
    const res = await fetch(`${h.emulator.endpoint}/services/${encodeURIComponent(billing.arn)}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe(billing.id);
  });

  it('answers a body that is not JSON with reason cannotParse', async () => {
    const res = await fetch(`${h.emulator.endpoint}/authpolicy/${serviceOf(h, 'billing').id}`, { method: 'PUT', body: '{policy:' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(await res.json()).toMatchObject({ reason: 'cannotParse' });
  });

  it('encodes injected Throttling, InternalServer and AccessDenied errors as the SDK expects', async () => {
    h.emulator.injectFault({ operation: 'ListServices', error: 'ThrottlingException', retryAfterSeconds: 2 });
    await expect(h.client.send(new ListServicesCommand({}))).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 429 },
      $retryable: { throttling: true },
      retryAfterSeconds: 2,
    });
    h.emulator.injectFault({ operation: '*', error: 'InternalServerException' });
    await expect(h.client.send(new GetServiceCommand({ serviceIdentifier: serviceOf(h, 'rates').id }))).rejects.toMatchObject({
      name: 'InternalServerException',
      $metadata: { httpStatusCode: 500 },
      $fault: 'server',
    });
    h.emulator.injectFault({ operation: 'PutAuthPolicy', error: 'AccessDeniedException', times: 2 });
    const put = (): Promise<unknown> =>
      h.client.send(new PutAuthPolicyCommand({ resourceIdentifier: serviceOf(h, 'rates').id, policy: '{"Statement":[]}' }));
    await expect(put()).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    await expect(put()).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(put()).resolves.toMatchObject({ state: 'Active' });
    // Faults do not reach the store.
    expect(h.emulator.store.putCount(serviceOf(h, 'rates').id)).toBe(1);
  });

  it('refuses bad options loudly', async () => {
    await expect(startLatticeControlPlane({ services: ['svc-bad'] })).rejects.toThrow(/services: svc-bad/);
    await expect(startLatticeControlPlane({ accountId: '123' })).rejects.toThrow(/accountId/);
    await expect(startLatticeControlPlane({ maxPolicyBytes: 0 })).rejects.toThrow(/maxPolicyBytes/);
  });
});
