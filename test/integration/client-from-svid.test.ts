/**
 * fromSvid, the SDK v3 credential provider, against the local IAM Roles Anywhere with SVIDs signed by
 * the local ACM PCA's CA: accepted by a real SDK client, used by @smithy/signature-v4 to sign, one
 * CreateSession for 50 concurrent callers, a new one after rotation, and explained refusals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromSvid, WorkloadEdgeError, type FromSvidOptions } from '@trellis/client';
import { LOCAL_IDENTITY, LOCAL_REGION, startStandIns, type StandIns } from '../../local/stand-ins';
import { issueSvid, writeIssuedSvid } from './client-support';

const ORDERS = 'spiffe://example.org/service/orders';

let standIns: StandIns;
let root: string;
let n = 0;
const sessions = (): number => standIns.rolesAnywhere.credentials.size;
const svidDir = (): string => join(root, `svid-${++n}`);
const options = (extra: Partial<FromSvidOptions> = {}): FromSvidOptions => ({
  trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
  profileArn: LOCAL_IDENTITY.profileArn,
  roleArn: LOCAL_IDENTITY.workloadRoleArn,
  region: LOCAL_REGION,
  endpoint: standIns.rolesAnywhere.endpoint,
  ...extra,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-client-from-svid-'));
  standIns = await startStandIns({ stateDir: join(root, 'state') });
});

afterAll(async () => {
  await standIns?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('fromSvid', () => {
  it('50 concurrent provider() calls make one CreateSession; a rotated SVID gets a new session', async () => {
    const dir = svidDir();
    const first = await writeIssuedSvid(dir, standIns.acmPca.ca, ORDERS);
    const provider = fromSvid({ svidDir: dir }, options());
    const before = sessions();
    const identities = await Promise.all(Array.from({ length: 50 }, () => provider()));
    expect(sessions() - before).toBe(1);
    expect(new Set(identities.map((i) => i.accessKeyId)).size).toBe(1);
    const [identity] = identities;
    expect(identity?.sessionToken).toBeTruthy();
    expect(identity?.expiration).toBeInstanceOf(Date);
    expect(standIns.rolesAnywhere.credentials.lookup(identity?.accessKeyId ?? '')?.sessionName).toBe(first.serialHex);

    const second = await writeIssuedSvid(dir, standIns.acmPca.ca, ORDERS);
    const rotated = await Promise.all(Array.from({ length: 10 }, () => provider()));
    expect(sessions() - before).toBe(2);
    expect(new Set(rotated.map((i) => i.accessKeyId)).size).toBe(1);
    expect(standIns.rolesAnywhere.credentials.lookup(rotated[0]?.accessKeyId ?? '')?.sessionName).toBe(second.serialHex);
  });

  it('is accepted by an SDK v3 client and signs with @smithy/signature-v4 (session token included)', async () => {
    const dir = svidDir();
    await writeIssuedSvid(dir, standIns.acmPca.ca, ORDERS);
    const provider = fromSvid({ svidDir: dir }, options());
    const client = new VPCLatticeClient({ region: LOCAL_REGION, credentials: provider });
    try {
      const before = sessions();
      const fromClient = await client.config.credentials();
      const signer = new SignatureV4({ service: 'vpc-lattice-svcs', region: LOCAL_REGION, credentials: provider, sha256: Sha256 });
      const signed = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'https:', hostname: 'billing.example', path: '/charges', headers: { host: 'billing.example' } }));
      expect(signed.headers.authorization).toContain(`Credential=${fromClient.accessKeyId}/`);
      expect(signed.headers['x-amz-security-token']).toBe(fromClient.sessionToken);
      expect(sessions() - before).toBe(1);
      // The session is one the local data plane would accept: the stand-in stored it.
      expect(standIns.rolesAnywhere.credentials.lookup(fromClient.accessKeyId)?.roleArn).toBe(LOCAL_IDENTITY.workloadRoleArn);
    } finally {
      client.destroy();
    }
  });

  it('takes the SVID from a function (a workload that keeps its key in memory)', async () => {
    const svid = await issueSvid(standIns.acmPca.ca, ORDERS);
    const provider = fromSvid({ svid: async () => ({ certificatePem: svid.certificatePem, keyPem: svid.keyPem }) }, options());
    const identity = await provider();
    expect(standIns.rolesAnywhere.credentials.lookup(identity.accessKeyId)?.sessionName).toBe(svid.serialHex);
  });

  it('explains a profile the stand-in refuses, and a role the profile does not include', async () => {
    const dir = svidDir();
    await writeIssuedSvid(dir, standIns.acmPca.ca, ORDERS);
    const wrongProfile = `${LOCAL_IDENTITY.profileArn.slice(0, -1)}f`;
    const profileError = await fromSvid({ svidDir: dir }, options({ profileArn: wrongProfile }))().catch((e: unknown) => e);
    expect(profileError).toBeInstanceOf(WorkloadEdgeError);
    expect((profileError as WorkloadEdgeError).code).toBe('SessionProfileRefused');
    expect((profileError as WorkloadEdgeError).message).toContain(wrongProfile);

    const wrongRole = 'arn:aws:iam::111122223333:role/elsewhere';
    const roleError = (await fromSvid({ svidDir: dir }, options({ roleArn: wrongRole }))().catch((e: unknown) => e)) as WorkloadEdgeError;
    expect(roleError.code).toBe('SessionRoleRefused');
    expect(roleError.message).toContain(wrongRole);
    expect(roleError.fix).toMatch(/roleArns.*trust policy/);
  });

  it('an expired SVID is reported before any CreateSession', async () => {
    const dir = svidDir();
    await writeIssuedSvid(dir, standIns.acmPca.ca, ORDERS);
    const before = sessions();
    const error = (await fromSvid({ svidDir: dir }, options({ now: () => new Date(Date.now() + 2 * 86_400_000) }))().catch((e: unknown) => e)) as WorkloadEdgeError;
    expect(error.code).toBe('SvidExpired');
    expect(error.fix).toContain('trellis svid fetch --watch');
    expect(sessions()).toBe(before);
  });
});
