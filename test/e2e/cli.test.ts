/**
 * The `trellis` CLI as a user runs it: the built bundle (client/dist/trellis.mjs, rebuilt here so it
 * is never stale) spawned as a child process against the local stack (booted once, as `npm start
 * -- --no-demo` does), found through TRELLIS_ENDPOINTS. Certificates are checked with openssl, not
 * with the code under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/in-process-stack';
import { spawnStack, waitForOutput, type StackProcess } from '../support/stack-process';

// 7600+: clear of test/e2e/local-stack.test.ts (6000-7500); each stack uses base..base+21.
const PORT_BASE = 7600 + Math.floor(Math.random() * 10) * 30;
const work = mkdtempSync(join(tmpdir(), 'trellis-cli-e2e-'));
const stateDir = join(work, 'state');
const cacheDir = join(work, 'sessions');
const CLI = join(ROOT, 'client', 'dist', 'trellis.mjs');
const env = { ...process.env, TRELLIS_ENDPOINTS: join(stateDir, 'endpoints.json') };

let stack: ChildProcess;
let stackProcess: StackProcess;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion. */
function trellis(...args: string[]): Promise<Run> {
  return trellisWith({}, ...args);
}

/** Runs the built CLI with extra environment variables. */
function trellisWith(extraEnv: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI and expects exit 0; returns stdout. */
async function ok(...args: string[]): Promise<string> {
  const run = await trellis(...args);
  if (run.code !== 0) throw new Error(`trellis ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return run.stdout;
}

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Retries `check` until it returns true (policy changes reach the data plane asynchronously). */
async function eventually(what: string | (() => string), check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for: ${typeof what === 'function' ? what() : what}`);
}

const spiffe = (name: string): string => `spiffe://example.org/cli-e2e/${name}`;
const svidDir = (name: string): string => join(work, 'svid', name);

async function registerAndFetch(name: string, ttl = 300): Promise<void> {
  await ok('workloads', 'register', '--spiffe-id', spiffe(name), '--principal-arn', `arn:aws:iam::111122223333:role/${name}`, '--ttl', String(ttl));
  await ok('svid', 'fetch', '--spiffe-id', spiffe(name), '--out', svidDir(name));
}

const callStatus = async (service: string, name: string): Promise<number> => {
  const run = await trellis('--json', 'call', service, '/', '--svid-dir', svidDir(name), '--cache-dir', cacheDir);
  if (run.stdout.trim() === '') throw new Error(`call printed nothing (exit ${run.code}): ${run.stderr}`);
  return (JSON.parse(run.stdout) as { status: number }).status;
};

beforeAll(async () => {
  execFileSync('npm', ['run', 'build', '-w', '@trellis/client'], { cwd: ROOT, stdio: 'pipe' });
  stackProcess = spawnStack(['--no-demo', '--quiet', '--port-base', String(PORT_BASE), '--state-dir', stateDir]);
  stack = stackProcess.child;
  await waitForOutput(stackProcess, '[trellis] ready in', 150_000);
}, 180_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (stack.exitCode === null) stack.kill('SIGKILL');
  }
  rmSync(work, { recursive: true, force: true });
});

describe('trellis: usage and exit codes', () => {
  it('lists every command in --help, exits 2 on an unknown option, 1 with the field on an API refusal', async () => {
    const help = await ok('--help');
    for (const command of ['workloads', 'grants', 'services', 'policy', 'svid', 'credential-process', 'call']) expect(help).toContain(command);
    const workloadsHelp = await ok('workloads', '--help');
    for (const sub of ['register', 'list', 'get', 'update', 'revoke', 'delete']) expect(workloadsHelp).toContain(sub);
    expect(await ok('svid', 'fetch', '--help')).toMatch(/--rotate-at[\s\S]*--on-rotate|--on-rotate[\s\S]*--rotate-at/);

    const unknown = await trellis('workloads', 'list', '--no-such-option');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option');

    const refused = await trellis('workloads', 'register', '--spiffe-id', 'spiffe://example.org/cli-e2e/../admin');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ValidationFailed');
    expect(refused.stderr).toContain('spiffeId');

    const refusedJson = await trellis('--json', 'workloads', 'register', '--spiffe-id', 'spiffe://other.org/x');
    expect(refusedJson.code).toBe(1);
    expect(JSON.parse(refusedJson.stderr)).toMatchObject({ error: { code: 'ValidationFailed', status: 400, details: [{ field: 'spiffeId' }] } });

    // no local stack at that address: the error says what to check
    const endpointsFile = join(work, 'stopped-stack.json');
    writeFileSync(endpointsFile, JSON.stringify({ api: `http://127.0.0.1:${PORT_BASE + 29}/local`, region: 'us-east-1' }));
    const unreachable = await trellis('--endpoints', endpointsFile, 'workloads', 'list');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('ApiUnreachable');
    expect(unreachable.stderr).toContain('npm start');
  });
});

describe('trellis: register, fetch, grant, call', () => {
  it('registers, lists and reads workloads; --json output is the API\'s JSON', async () => {
    const registered = JSON.parse(await ok('--json', 'workloads', 'register', '--spiffe-id', spiffe('orders'), '--principal-arn', 'arn:aws:iam::111122223333:role/orders', '--ttl', '600')) as {
      id: string;
      revision: number;
    };
    expect(registered).toMatchObject({ spiffeId: spiffe('orders'), x509SvidTtlSeconds: 600, revision: 1 });

    const again = await trellis('workloads', 'register', '--spiffe-id', spiffe('orders'));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('WorkloadExists');
    expect(again.stderr).toContain('trellis workloads get');

    const list = JSON.parse(await ok('--json', 'workloads', 'list')) as { items: { id: string }[] };
    expect(list.items.map((w) => w.id)).toContain(registered.id);
    expect(await ok('workloads', 'list')).toMatch(/^ID\s+SPIFFE ID\s+TTL/);
    expect(await ok('workloads', 'get', spiffe('orders'))).toContain(registered.id);

    const updated = JSON.parse(await ok('--json', 'workloads', 'update', registered.id, '--ttl', '300')) as { revision: number; x509SvidTtlSeconds: number };
    expect(updated).toMatchObject({ revision: 2, x509SvidTtlSeconds: 300 });
    const stale = await trellis('workloads', 'update', registered.id, '--ttl', '900', '--revision', '1');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('RevisionMismatch');

    await ok('workloads', 'register', '--spiffe-id', spiffe('scratch'));
    expect(await ok('workloads', 'delete', spiffe('scratch'))).toContain('deleted');
    const gone = await trellis('workloads', 'get', spiffe('scratch'));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NotFound');

    const services = JSON.parse(await ok('--json', 'services', 'list')) as { items: { name: string }[] };
    expect(services.items.map((s) => s.name)).toEqual(expect.arrayContaining(['billing', 'rates']));
  });

  it('svid fetch writes the SVID, its key (0600, made here) and the bundle', async () => {
    await ok('workloads', 'register', '--spiffe-id', spiffe('reviews'), '--ttl', '300');
    const [orders, reviews] = await Promise.all([
      ok('--json', 'svid', 'fetch', '--spiffe-id', spiffe('orders'), '--out', svidDir('orders')),
      ok('svid', 'fetch', '--spiffe-id', spiffe('reviews'), '--out', svidDir('reviews')),
    ]);
    expect(JSON.parse(orders)).toMatchObject({ spiffeId: spiffe('orders'), serialNumber: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(reviews).toContain('svid-key.pem');

    const dir = svidDir('orders');
    expect(statSync(join(dir, 'svid-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'svid.pem')).mode & 0o777).toBe(0o644);
    expect(openssl('x509', '-in', join(dir, 'svid.pem'), '-noout', '-ext', 'subjectAltName')).toContain(`URI:${spiffe('orders')}`);
    expect(openssl('verify', '-CAfile', join(dir, 'bundle.pem'), join(dir, 'svid.pem'))).toContain(': OK');
    expect(openssl('pkey', '-in', join(dir, 'svid-key.pem'), '-pubout')).toBe(openssl('x509', '-in', join(dir, 'svid.pem'), '-noout', '-pubkey'));
    expect(openssl('x509', '-in', join(dir, 'svid.pem'), '-noout', '-serial').trim().toLowerCase()).toBe(`serial=${(JSON.parse(orders) as { serialNumber: string }).serialNumber}`);
  }, 40_000);

  it('a grant lets orders call billing (credential_process, SigV4); reviews is denied; removing the grant denies again', async () => {
    const credentials = JSON.parse(await ok('credential-process', '--svid-dir', svidDir('orders'), '--cache-dir', cacheDir)) as Record<string, unknown>;
    expect(credentials).toMatchObject({ Version: 1, AccessKeyId: expect.any(String), SecretAccessKey: expect.any(String), SessionToken: expect.any(String), Expiration: expect.any(String) });

    const grant = JSON.parse(await ok('--json', 'grants', 'add', '--caller', spiffe('orders'), '--service', 'billing')) as { id: string };
    expect(grant.id).toMatch(/^gr-billing-/);
    expect(await ok('grants', 'list', '--service', 'billing')).toContain(grant.id);
    await eventually('orders allowed on billing', async () => (await callStatus('billing', 'orders')) === 200);

    const allowed = await trellis('call', 'billing', '/', '--svid-dir', svidDir('orders'), '--cache-dir', cacheDir);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain(spiffe('orders'));
    const denied = await trellis('call', 'billing', '/', '--svid-dir', svidDir('reviews'), '--cache-dir', cacheDir);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('403');

    const policy = await ok('policy', 'show', 'billing');
    expect(policy).toContain(spiffe('orders'));

    // An AWS profile whose credential_process is this CLI, read by the SDK's own profile resolution.
    const configFile = join(work, 'aws-config');
    writeFileSync(configFile, `[profile orders]\nregion = us-east-1\ncredential_process = ${process.execPath} ${CLI} credential-process --svid-dir ${svidDir('orders')} --cache-dir ${cacheDir} --endpoints ${join(stateDir, 'endpoints.json')}\n`);
    const viaProfile = await trellisWith({ AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials') }, 'call', 'billing', '/', '--profile', 'orders');
    expect(viaProfile.code).toBe(0);
    expect(viaProfile.stdout).toContain(spiffe('orders'));

    // --api: the deployed-stage path (SigV4 for execute-api from the AWS credential chain) through the built bundle.
    const api = (JSON.parse(readFileSync(join(stateDir, 'endpoints.json'), 'utf8')) as { api: string }).api;
    const signed = await trellisWith({ AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }, '--api', api, '--region', 'us-east-1', '--json', 'services', 'list');
    expect(signed.code).toBe(0);
    expect((JSON.parse(signed.stdout) as { items: { name: string }[] }).items.map((i) => i.name)).toContain('billing');

    // --wait returns once the policy enforces the removal: the very next call is denied.
    expect(await ok('grants', 'remove', grant.id, '--wait')).toContain('(enforced)');
    expect(await ok('grants', 'list', '--service', 'billing')).not.toContain(grant.id);
    expect(await callStatus('billing', 'orders')).toBe(403);
  }, 60_000);

  it('grants apply -f (the bundle parses YAML), the same file again changes nothing, and policy explain says why', async () => {
    const file = join(work, 'grants.yaml');
    writeFileSync(file, `services:\n  rates:\n    - caller: ${spiffe('orders')}\n      methods: [GET]\n    - effect: Deny\n      caller: ${spiffe('orders')}\n      pathPrefixes: [/admin/]\n`);
    const first = JSON.parse(await ok('--json', 'grants', 'apply', '-f', file)) as { services: { changed: boolean; created: unknown[] }[] };
    expect(first.services.map((s) => [s.changed, s.created.length])).toEqual([[true, 2]]);
    const again = JSON.parse(await ok('--json', 'grants', 'apply', '-f', file)) as { services: { changed: boolean }[] };
    expect(again.services.map((s) => s.changed)).toEqual([false]);
    type Answer = { decision: string; policyState: string; blockedBy: unknown[] };
    const explain = async (...args: string[]): Promise<Answer> => JSON.parse(await ok('--json', 'policy', 'explain', '--service', 'rates', '--caller', spiffe('orders'), ...args)) as Answer;
    await eventually('rates policy in sync', async () => (await explain()).policyState === 'in-sync');
    expect(await explain('--method', 'GET', '--path', '/x')).toMatchObject({ decision: 'ALLOW' });
    expect(await explain('--method', 'GET', '--path', '/admin/users')).toMatchObject({ decision: 'DENY', blockedBy: [expect.anything()] });
    expect(await ok('policy', 'matrix')).toMatch(new RegExp(`${spiffe('orders')}.*DENY /admin/; allow GET`));
  }, 60_000);
});

describe('trellis svid fetch --watch', () => {
  it('rotates every few seconds with a new key each time, never leaving an unusable file; credentials follow the new serial', async () => {
    const name = 'rotator';
    const dir = svidDir(name);
    await registerAndFetch(name);
    const firstCredentials = JSON.parse(await ok('credential-process', '--svid-dir', dir, '--cache-dir', cacheDir)) as { AccessKeyId: string };
    await ok('grants', 'add', '--caller', spiffe(name), '--service', 'rates');

    const hookLog = join(work, 'rotations.log');
    const watcher = spawn(
      process.execPath,
      [CLI, '--json', 'svid', 'fetch', '--spiffe-id', spiffe(name), '--out', dir, '--watch', '--rotate-at', '0.02', '--on-rotate', `echo "$TRELLIS_SVID_SERIAL $TRELLIS_SVID_DIR" >> ${hookLog}`],
      { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    watcher.stdout.on('data', (c: Buffer) => (out += c.toString()));
    watcher.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => watcher.once('exit', (code) => r(code)));
    const rotations = (): { event: string; serialNumber: string }[] =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { event: string; serialNumber: string })
        .filter((e) => e.event === 'rotated');

    // A reader looping on the files as a workload would: every file it reads is a whole PEM that
    // parses, and the key and certificate it settles on match. Two files cannot change in one step, so
    // a read that straddles the two renames (key first, then certificate) is read again, as
    // readSvidFiles documents; it must settle at once, not linger.
    let reads = 0;
    let straddles = 0;
    let reading = true;
    const serialsSeen = new Set<string>();
    const reader = (async () => {
      while (reading) {
        let settled = false;
        for (let attempt = 0; attempt < 50 && !settled; attempt += 1) {
          const [keyPem, certPem] = [await readFile(join(dir, 'svid-key.pem'), 'utf8'), await readFile(join(dir, 'svid.pem'), 'utf8')];
          const key = createPrivateKey(keyPem); // throws on a partial file
          const cert = new X509Certificate(certPem); // likewise
          reads += 1;
          settled = cert.checkPrivateKey(key) && createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
          if (settled) serialsSeen.add(cert.serialNumber.toLowerCase());
          else {
            straddles += 1;
            await new Promise((r) => setTimeout(r, 10));
          }
        }
        expect(settled).toBe(true);
        await new Promise((r) => setTimeout(r, 20)); // leave the two cores to the stack and the agent
      }
    })();

    try {
      await eventually(() => `three writes (the first and two rotations); the agent printed:\n${out}\n${err}`, async () => rotations().length >= 3 || watcher.exitCode !== null, 60_000);
    } finally {
      reading = false;
      await reader;
    }
    expect(watcher.exitCode, err).toBeNull();
    watcher.kill('SIGTERM');
    expect(await exited).toBe(0);

    const seen = rotations();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seen.map((e) => e.serialNumber)).size).toBe(seen.length);
    expect(reads).toBeGreaterThan(10);
    expect(serialsSeen.size).toBeGreaterThanOrEqual(2);
    expect(straddles).toBeLessThan(reads / 4);

    // --on-rotate ran after every write, with the serial and directory
    const hooks = readFileSync(hookLog, 'utf8').trim().split('\n');
    const finalSerial = openssl('x509', '-in', join(dir, 'svid.pem'), '-noout', '-serial').trim().replace(/^serial=/, '').toLowerCase();
    expect(hooks.length).toBeGreaterThanOrEqual(seen.length);
    expect(hooks[hooks.length - 1]).toBe(`${finalSerial} ${dir}`);
    expect(openssl('pkey', '-in', join(dir, 'svid-key.pem'), '-pubout')).toBe(openssl('x509', '-in', join(dir, 'svid.pem'), '-noout', '-pubkey'));
    expect(existsSync(join(dir, 'bundle.pem'))).toBe(true);

    // credential_process now answers for the new SVID: a new session, whose name is the new serial
    const rotatedCredentials = JSON.parse(await ok('credential-process', '--svid-dir', dir, '--cache-dir', cacheDir)) as { AccessKeyId: string };
    expect(rotatedCredentials.AccessKeyId).not.toBe(firstCredentials.AccessKeyId);
    let identity: { sessionName?: string; x509SanUri?: string } = {};
    await eventually('the rotator allowed on rates', async () => {
      const run = await trellis('--json', 'call', 'rates', '/', '--svid-dir', dir, '--cache-dir', cacheDir);
      const answer = JSON.parse(run.stdout) as { status: number; body: string };
      if (answer.status !== 200) return false;
      identity = (JSON.parse(answer.body) as { identity: typeof identity }).identity;
      return true;
    });
    expect(identity).toMatchObject({ sessionName: finalSerial, x509SanUri: spiffe(name) });
  }, 120_000);
});

describe('trellis workloads revoke', () => {
  it('denies the sessions already obtained with the SVID, refuses a new one once the CRL is imported, and names the reasons on a typo', async () => {
    const name = 'revoked';
    // An hour's SVID: the session is cached (a 300 s one ends inside the cache's 5-minute margin, so
    // every call would make a new session and the policy's deny would never be what refuses it).
    await registerAndFetch(name, 3600);
    await ok('grants', 'add', '--caller', spiffe(name), '--service', 'billing');
    await eventually('the workload allowed on billing', async () => (await callStatus('billing', name)) === 200);

    const typo = await trellis('workloads', 'revoke', spiffe(name), '--reason', 'stolen');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('keyCompromise');

    const revoked = JSON.parse(await ok('--json', 'workloads', 'revoke', spiffe(name), '--reason', 'keyCompromise')) as { serialNumber: string; reason: string; notAfter: string };
    expect(revoked).toMatchObject({ reason: 'keyCompromise', serialNumber: expect.stringMatching(/^[0-9a-f:]+$/i) });
    // The same cached credentials (the session made before the revocation) are refused by the policy.
    await eventually('the old session denied on billing', async () => (await callStatus('billing', name)) === 403);
    expect(await ok('policy', 'show', 'billing')).toContain('aws:userid');
    // A new session with the revoked certificate: refused by Roles Anywhere once the CA's CRL is imported.
    await eventually('CreateSession refused for the revoked certificate', async () => {
      const fresh = await trellis('credential-process', '--svid-dir', svidDir(name), '--cache-dir', join(work, 'fresh-cache'));
      return fresh.code === 1 && /revoked/i.test(fresh.stderr);
    });
  }, 90_000);
});

// The smoke test of a stage (`npm run smoke`, which runs this built CLI), here against this local
// stack: the same code path a deployed stage gets, minus the CloudFormation lookup of its outputs.
describe('trellis smoke and trellis status against the local stack', () => {
  it('plays the reference scenario with throwaway workloads, checks the four outcomes, cleans up and prints the table', async () => {
    const run = await trellis('smoke', '--endpoints', join(stateDir, 'endpoints.json'));
    expect(run.code, `${run.stderr}\n${run.stdout}`).toBe(0);
    expect(run.stdout).toMatch(/orders → billing\s+ALLOWED\s+ALLOWED\s+200\s+ok/);
    expect(run.stdout).toMatch(/orders → rates\s+ALLOWED\s+ALLOWED\s+200\s+ok/);
    expect(run.stdout).toMatch(/reviews → billing\s+DENIED\s+DENIED\s+403\s+ok\s+AccessDeniedException/);
    expect(run.stdout).toMatch(/reviews → rates\s+ALLOWED\s+ALLOWED\s+200\s+ok/);
    expect(run.stdout).toContain('cleanup: 3 grants and 2 workloads deleted');
    expect(run.stdout).toContain('PASSED');
    const left = JSON.parse(await ok('--json', 'workloads', 'list')) as { items: { spiffeId: string }[] };
    expect(left.items.filter((w) => w.spiffeId.includes('/smoke/'))).toEqual([]);
  }, 120_000);

  it('trellis status summarises the audit trail (p50/p95, nothing stuck) and metrics.log holds the EMF lines', async () => {
    const run = await trellis('--json', 'status', '--hours', '1');
    const status = JSON.parse(run.stdout) as { svids: { issued: number; timeToIdentityMs: { count: number } }; policies: { grantToPolicyMs: { count: number } }; stuck: { pendingSvidRequests: number } };
    expect(status.svids.issued).toBeGreaterThan(0);
    expect(status.svids.timeToIdentityMs.count).toBeGreaterThan(0);
    expect(status.policies.grantToPolicyMs.count).toBeGreaterThan(0);
    const human = await trellis('status');
    expect(human.stdout).toMatch(/time to identity:\s+p50 \d+ ms, p95 \d+ ms/);
    const emf = readFileSync(join(stateDir, 'logs', 'metrics.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] }; stage: string });
    const names = new Set(emf.flatMap((d) => d._aws.CloudWatchMetrics.flatMap((c) => c.Metrics.map((m) => `${c.Namespace}/${m.Name}/${m.Unit}`))));
    expect(names).toContain('Trellis/SvidsIssued/Count');
    expect(names).toContain('Trellis/TimeToIdentity/Milliseconds');
    expect(names).toContain('Trellis/GrantToPolicyLatency/Milliseconds');
    expect(emf.every((d) => d.stage === 'local')).toBe(true);
  }, 60_000);
});
