/**
 * `trellis call` (the built CLI, as a child process) against the local Lattice data plane of the
 * in-process stack: SigV4 with Roles Anywhere credentials from the file cache, and --mtls; allowed
 * and denied by the auth policies compiled from the reference grants.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutAuthPolicyCommand, VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_IDENTITY, LOCAL_REGION } from '../../local/stand-ins';
import { logger } from '../../shared/logger';
import { compilePolicy } from '../../shared/policy/compiler';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';
import { buildCli, runCli, writeIssuedSvid } from './client-support';

const ORDERS = 'spiffe://example.org/service/orders';
const REVIEWS = 'spiffe://example.org/service/reviews';

let stack: InProcessStack;
let root: string;
let endpoints: string;
const dirs = { orders: '', reviews: '' };

const call = (who: keyof typeof dirs, args: string[]) =>
  runCli(['--endpoints', endpoints, 'call', ...args, '--svid-dir', dirs[who], '--cache-dir', join(root, 'cache')]);

beforeAll(async () => {
  logger.setLogLevel('ERROR');
  root = await mkdtemp(join(tmpdir(), 'trellis-client-call-'));
  [stack] = await Promise.all([startInProcessStack({ dataPlane: true }), buildCli()]);
  const dataPlane = stack.dataPlane;
  if (dataPlane === undefined) throw new Error('the data plane did not start');
  const lattice = new VPCLatticeClient({ endpoint: stack.standIns.lattice.endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  try {
    const billing = stack.standIns.lattice.store.getServiceByName('billing');
    if (billing === undefined) throw new Error('no billing service');
    const { policy } = compilePolicy([{ id: 'g-orders-billing', caller: ORDERS }], { serviceArn: billing.arn, principalArn: LOCAL_IDENTITY.workloadRoleArn, trustDomain: 'example.org' });
    await lattice.send(new PutAuthPolicyCommand({ resourceIdentifier: billing.arn, policy }));
  } finally {
    lattice.destroy();
  }
  endpoints = join(root, 'endpoints.json');
  await writeFile(
    endpoints,
    JSON.stringify({
      api: 'http://127.0.0.1:1/local',
      region: LOCAL_REGION,
      rolesAnywhere: stack.standIns.rolesAnywhere.endpoint,
      workloadIdentity: { trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn, profileArn: LOCAL_IDENTITY.profileArn, workloadRoleArn: LOCAL_IDENTITY.workloadRoleArn },
      services: dataPlane.services,
      servicesCaFile: dataPlane.caFile,
    }),
  );
  dirs.orders = join(root, 'orders');
  dirs.reviews = join(root, 'reviews');
  await Promise.all([writeIssuedSvid(dirs.orders, stack.standIns.acmPca.ca, ORDERS), writeIssuedSvid(dirs.reviews, stack.standIns.acmPca.ca, REVIEWS)]);
});

afterAll(async () => {
  await stack?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

// Each step starts a Node process (about 0.5 s of CPU, several seconds when the 2 cores are busy).
describe('trellis call', { timeout: 60_000 }, () => {
  it('Orders → Billing with SigV4 is allowed: exit 0, status line and body', async () => {
    const result = await call('orders', ['billing', '/charges?month=2024-05']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('HTTP 200');
    expect(result.stdout).toContain('HelloWorld from Billing Lambda');
    expect(result.stdout).toContain(ORDERS);
  });

  it('Reviews → Billing with SigV4 is denied: exit 1 and Lattice\'s AccessDeniedException', async () => {
    const result = await call('reviews', ['billing', '/charges']);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')[0]).toBe('HTTP 403');
    expect(result.stdout).toContain('AccessDeniedException');
  });

  it('--json prints {status, headers, body}', async () => {
    const result = await runCli(['--json', '--endpoints', endpoints, 'call', 'billing', '/charges', '--svid-dir', dirs.orders, '--cache-dir', join(root, 'cache'), '--header', 'X-Request-Note: from-test']);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { status: number; headers: Record<string, string>; body: string };
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toBe('application/json');
    expect(JSON.parse(json.body)).toMatchObject({ message: 'HelloWorld from Billing Lambda' });
  });

  it('--mtls authenticates with the SVID itself, with a note that only the local data plane accepts it', async () => {
    const allowed = await call('orders', ['billing', '/charges', '--mtls']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/VPC Lattice authenticates callers only with SigV4/);
    const denied = await call('reviews', ['billing', '/charges', '--mtls']);
    expect(denied.code).toBe(1);
    expect(denied.stdout.split('\n')[0]).toBe('HTTP 403');
  });

  it('an unknown service is a usage error listing the local ones', async () => {
    const result = await call('orders', ['shipping', '/']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('billing');
    expect(result.stderr).toContain('--url');
  });
});
