/**
 * `trellis credential-process` as the AWS SDK runs it: the real consumer
 * (@aws-sdk/credential-provider-process's fromProcess) reads a config file whose profile runs the built
 * CLI, against the local IAM Roles Anywhere and an SVID signed by the local ACM PCA's CA. CreateSession
 * calls are counted at the stand-in (each successful one stores one session).
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { fromProcess } from '@aws-sdk/credential-provider-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSvidFiles } from '@trellis/client';
import { LocalCa } from '../../local/acm-pca/local-ca';
import { LOCAL_IDENTITY, LOCAL_REGION, startStandIns, type StandIns } from '../../local/stand-ins';
import { buildCli, CLI, issueSvid, runCli, writeIssuedSvid } from './client-support';

const ORDERS = 'spiffe://example.org/service/orders';

let standIns: StandIns;
let root: string;
let n = 0;
const sessions = (): number => standIns.rolesAnywhere.credentials.size;
const sessionName = (accessKeyId: string): string | undefined => standIns.rolesAnywhere.credentials.lookup(accessKeyId)?.sessionName;

const caseDirs = (): { svidDir: string; cacheDir: string; base: string } => {
  const base = join(root, `case-${++n}`);
  return { base, svidDir: join(base, 'svid'), cacheDir: join(base, 'cache') };
};

const identityArgs = (overrides: Partial<Record<'trust-anchor-arn' | 'profile-arn' | 'role-arn', string>> = {}): string[] => [
  '--trust-anchor-arn',
  overrides['trust-anchor-arn'] ?? LOCAL_IDENTITY.trustAnchorArn,
  '--profile-arn',
  overrides['profile-arn'] ?? LOCAL_IDENTITY.profileArn,
  '--role-arn',
  overrides['role-arn'] ?? LOCAL_IDENTITY.workloadRoleArn,
  '--region',
  LOCAL_REGION,
  '--endpoint',
  standIns.rolesAnywhere.endpoint,
];

const processArgs = (svidDir: string, cacheDir: string): string[] => ['credential-process', '--svid-dir', svidDir, ...identityArgs(), '--cache-dir', cacheDir];

/** An AWS config file with a profile whose credential_process is the built CLI; fromProcess reads it. */
async function profileFor(base: string, svidDir: string, cacheDir: string): Promise<{ profile: string; filepath: string; configFilepath: string }> {
  const configFilepath = join(base, 'config');
  const filepath = join(base, 'credentials');
  await writeFile(configFilepath, `[profile orders]\nregion = ${LOCAL_REGION}\ncredential_process = ${[process.execPath, CLI, ...processArgs(svidDir, cacheDir)].join(' ')}\n`);
  await writeFile(filepath, '');
  return { profile: 'orders', filepath, configFilepath };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-client-cp-'));
  [standIns] = await Promise.all([startStandIns({ stateDir: join(root, 'state') }), buildCli()]);
});

afterAll(async () => {
  await standIns?.stop();
  await rm(root, { recursive: true, force: true });
});

// Each step starts a Node process (about 0.5 s of CPU, several seconds when the 2 cores are busy).
describe('trellis credential-process', { timeout: 60_000 }, () => {
  it('feeds the SDK\'s fromProcess: two providers and an SDK client refresh on one CreateSession; a rotated SVID gets a new session', async () => {
    const { base, svidDir, cacheDir } = caseDirs();
    const first = await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
    const init = await profileFor(base, svidDir, cacheDir);
    const before = sessions();

    const providerA = fromProcess(init);
    const providerB = fromProcess(init);
    const client = new VPCLatticeClient({ region: LOCAL_REGION, credentials: fromProcess(init) });
    try {
      const a = await providerA();
      const b = await providerB();
      const c = await client.config.credentials();
      // Refreshes: each provider runs the process again.
      const a2 = await providerA();
      const b2 = await providerB();

      expect(sessions() - before).toBe(1);
      for (const creds of [b, c, a2, b2]) expect(creds.accessKeyId).toBe(a.accessKeyId);
      expect(a.accessKeyId).toMatch(/^ASIA/);
      expect(a.sessionToken).toBeTruthy();
      expect(a.expiration?.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
      expect(sessionName(a.accessKeyId)).toBe(first.serialHex);

      // The cache file holds credentials: 0600 in a 0700 directory.
      expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
      const files = (await readdir(cacheDir)).filter((f) => f.endsWith('.json'));
      expect(files).toHaveLength(1);
      expect((await stat(join(cacheDir, files[0] ?? ''))).mode & 0o777).toBe(0o600);

      // Rotation: a new key and certificate (new serial) in the directory → a new session at once.
      const second = await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
      expect(second.serialHex).not.toBe(first.serialHex);
      const rotated = await providerA();
      expect(sessions() - before).toBe(2);
      expect(rotated.accessKeyId).not.toBe(a.accessKeyId);
      expect(sessionName(rotated.accessKeyId)).toBe(second.serialHex);
      expect((await providerB()).accessKeyId).toBe(rotated.accessKeyId);
      expect(sessions() - before).toBe(2);
    } finally {
      client.destroy();
    }
  });

  it('prints only the credential_process JSON on stdout', async () => {
    const { svidDir, cacheDir } = caseDirs();
    await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
    const result = await runCli(processArgs(svidDir, cacheDir));
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(['AccessKeyId', 'Expiration', 'SecretAccessKey', 'SessionToken', 'Version']);
    expect(json.Version).toBe(1);
    expect(new Date(String(json.Expiration)).toISOString()).toBe(json.Expiration);
  });

  it('several processes started at once with an empty cache make one CreateSession', async () => {
    const { svidDir, cacheDir } = caseDirs();
    await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
    const before = sessions();
    const results = await Promise.all(Array.from({ length: 5 }, () => runCli(processArgs(svidDir, cacheDir))));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(sessions() - before).toBe(1);
    const keys = results.map((r) => (JSON.parse(r.stdout) as { AccessKeyId: string }).AccessKeyId);
    expect(new Set(keys).size).toBe(1);
    expect((await readdir(cacheDir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  describe('refusals name what to check (exit 1, code and fix on stderr, nothing on stdout)', () => {
    it('a profile Roles Anywhere does not know', async () => {
      const { svidDir, cacheDir } = caseDirs();
      await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
      const unknownProfile = LOCAL_IDENTITY.profileArn.replace(/profile\/.*/, 'profile/00000000-0000-4000-8000-0000000000ff');
      const result = await runCli(['credential-process', '--svid-dir', svidDir, ...identityArgs({ 'profile-arn': unknownProfile }), '--cache-dir', cacheDir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('SessionProfileRefused');
      expect(result.stderr).toContain(unknownProfile);
      expect(result.stderr).toMatch(/fix: .*--profile-arn.*enabled/);
    });

    it('a role the profile does not include', async () => {
      const { svidDir, cacheDir } = caseDirs();
      await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
      const otherRole = 'arn:aws:iam::111122223333:role/not-in-the-profile';
      const result = await runCli(['--json', 'credential-process', '--svid-dir', svidDir, ...identityArgs({ 'role-arn': otherRole }), '--cache-dir', cacheDir]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const { error } = JSON.parse(result.stderr) as { error: { code: string; message: string; fix: string } };
      expect(error.code).toBe('SessionRoleRefused');
      expect(error.message).toContain(otherRole);
      expect(error.fix).toContain(LOCAL_IDENTITY.profileArn);
      expect(error.fix).toMatch(/trust policy/);
    });

    it('an SVID from a CA the trust anchor does not trust (its own bundle.pem agrees with it)', async () => {
      const { base, svidDir, cacheDir } = caseDirs();
      const foreign = await LocalCa.load(join(base, 'foreign-ca'), { region: LOCAL_REGION });
      const svid = await issueSvid(foreign, ORDERS);
      await writeSvidFiles(svidDir, { certificatePem: svid.certificatePem, keyPem: svid.keyPem, bundlePem: foreign.certificatePem });
      const result = await runCli(processArgs(svidDir, cacheDir));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('SessionCertificateUntrusted');
      expect(result.stderr).toContain(LOCAL_IDENTITY.trustAnchorArn);
    });

    it('an unreachable endpoint', async () => {
      const { svidDir, cacheDir } = caseDirs();
      await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
      const args = processArgs(svidDir, cacheDir);
      args[args.indexOf('--endpoint') + 1] = 'http://127.0.0.1:9';
      const result = await runCli(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('SessionEndpointUnreachable');
      expect(result.stderr).toContain('http://127.0.0.1:9');
    });

    it('missing ARNs without a local stack is a usage error naming the options (exit 2)', async () => {
      const { base, svidDir } = caseDirs();
      await mkdir(base, { recursive: true });
      const result = await runCli(['credential-process', '--svid-dir', svidDir], { cwd: base, env: { TRELLIS_ENDPOINTS: join(base, 'none.json') } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--trust-anchor-arn');
      expect(result.stderr).toContain('--profile-arn');
      expect(result.stderr).toContain('--role-arn');
    });

    it('takes the ARNs and endpoint from the local endpoints.json', async () => {
      const { base, svidDir, cacheDir } = caseDirs();
      await writeIssuedSvid(svidDir, standIns.acmPca.ca, ORDERS);
      const endpoints = join(base, 'endpoints.json');
      await writeFile(
        endpoints,
        JSON.stringify({
          api: 'http://127.0.0.1:1/local',
          region: LOCAL_REGION,
          rolesAnywhere: standIns.rolesAnywhere.endpoint,
          workloadIdentity: { trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn, profileArn: LOCAL_IDENTITY.profileArn, workloadRoleArn: LOCAL_IDENTITY.workloadRoleArn },
        }),
      );
      const result = await runCli(['--endpoints', endpoints, 'credential-process', '--svid-dir', svidDir, '--cache-dir', cacheDir]);
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as { AccessKeyId: string }).AccessKeyId).toMatch(/^ASIA/);
    });
  });
});
