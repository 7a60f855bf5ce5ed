/**
 * The credential_process session cache and the fromSvid provider on a fake clock and a counting
 * CreateSession: the 5-minute refresh boundary, file modes, rotation, the lock, and how Roles
 * Anywhere refusals are explained.
 */
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheFileName,
  credentialProcessJson,
  explainCreateSessionError,
  fromSvid,
  RolesAnywhereError,
  sessionForSvidDir,
  WorkloadEdgeError,
  type CreateSessionInput,
  type RolesAnywhereSettings,
  type SessionCredentials,
} from '@trellis/client';
import { X509Certificate } from '../../client/src/x509';
import { makeCa, makeSvid, writeSvidDir, type Pki } from './client-pki';

const T0 = new Date('2030-01-01T00:00:00Z');
const HOUR = 3_600_000;
const MINUTE = 60_000;

const settings: RolesAnywhereSettings = {
  endpoint: 'http://rolesanywhere.test',
  region: 'us-east-1',
  trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a',
  profileArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:profile/p',
  roleArn: 'arn:aws:iam::111122223333:role/r',
};

/** A CreateSession that counts its calls and issues one-hour sessions from the fake clock. */
function fakeCreateSession(clock: { now: Date }) {
  const calls: CreateSessionInput[] = [];
  const create = async (input: CreateSessionInput): Promise<SessionCredentials> => {
    calls.push(input);
    await new Promise((resolve) => setImmediate(resolve));
    const serial = new X509Certificate(input.certificatePem).serialNumber.toLowerCase();
    return {
      accessKeyId: `ASIA${String(calls.length).padStart(16, 'A')}`,
      secretAccessKey: `secret-${calls.length}`,
      sessionToken: `token-${calls.length}`,
      expiration: new Date(clock.now.getTime() + HOUR),
      assumedRoleArn: `arn:aws:sts::111122223333:assumed-role/r/${serial}`,
    };
  };
  return { calls, create };
}

let root: string;
let ca: Pki;
let svid: Pki;
let n = 0;
const fresh = async (): Promise<{ svidDir: string; cacheDir: string }> => {
  const base = join(root, `case-${++n}`);
  const svidDir = join(base, 'svid');
  await writeSvidDir(svidDir, svid, ca);
  return { svidDir, cacheDir: join(base, 'cache') };
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-client-cache-'));
  ca = await makeCa();
  // Valid around the fake clock's T0 and the hours after it.
  svid = await makeSvid(ca, { notBefore: new Date(T0.getTime() - HOUR), notAfter: new Date(T0.getTime() + 24 * HOUR) });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sessionForSvidDir (the credential_process file cache)', () => {
  it('answers from the cache until 5 minutes before expiry, then makes a new session', async () => {
    const { svidDir, cacheDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const get = () => sessionForSvidDir({ svidDir, cacheDir, settings, now: () => clock.now, createSession: fake.create });

    const first = await get();
    expect(first.cached).toBe(false);
    expect(first.serialHex).toBe(svid.cert.serialNumber.toLowerCase());
    const expiresAt = first.credentials.expiration.getTime();

    clock.now = new Date(expiresAt - 5 * MINUTE - 1);
    const justBefore = await get();
    expect(justBefore.cached).toBe(true);
    expect(justBefore.credentials.accessKeyId).toBe(first.credentials.accessKeyId);
    expect(justBefore.credentials.expiration.getTime()).toBe(expiresAt);

    clock.now = new Date(expiresAt - 5 * MINUTE);
    const atMargin = await get();
    expect(atMargin.cached).toBe(false);
    expect(atMargin.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(fake.calls).toHaveLength(2);
  });

  it('keeps the cache directory 0700 and the session file 0600, named by a hash of serial, role, profile, trust anchor and endpoint', async () => {
    const { svidDir, cacheDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    await sessionForSvidDir({ svidDir, cacheDir, settings, now: () => clock.now, createSession: fake.create });
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    const files = await readdir(cacheDir);
    const name = cacheFileName(svid.cert.serialNumber.toLowerCase(), settings);
    expect(files).toEqual([name]);
    expect((await stat(join(cacheDir, name))).mode & 0o777).toBe(0o600);
    expect(name).toMatch(/^session-[0-9a-f]{40}\.json$/);
    // Each part of the key gives another file.
    for (const change of [{ roleArn: `${settings.roleArn}2` }, { profileArn: `${settings.profileArn}2` }, { trustAnchorArn: `${settings.trustAnchorArn}2` }, { endpoint: 'http://other' }]) {
      expect(cacheFileName(svid.cert.serialNumber.toLowerCase(), { ...settings, ...change })).not.toBe(name);
    }
  });

  it('a rotated SVID (new serial) gets a new session at once, though the old one is still fresh', async () => {
    const { svidDir, cacheDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const get = () => sessionForSvidDir({ svidDir, cacheDir, settings, now: () => clock.now, createSession: fake.create });
    const before = await get();
    const next = await makeSvid(ca, { notBefore: new Date(T0.getTime() - HOUR), notAfter: new Date(T0.getTime() + 24 * HOUR) });
    await writeSvidDir(svidDir, next, ca);
    const after = await get();
    expect(after.cached).toBe(false);
    expect(after.serialHex).toBe(next.cert.serialNumber.toLowerCase());
    expect(after.serialHex).not.toBe(before.serialHex);
    expect(fake.calls).toHaveLength(2);
    expect((await get()).cached).toBe(true);
  });

  it('concurrent callers share one CreateSession through the lock file', async () => {
    const { svidDir, cacheDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => sessionForSvidDir({ svidDir, cacheDir, settings, now: () => clock.now, createSession: fake.create, lock: { pollMs: 1 } })),
    );
    expect(fake.calls).toHaveLength(1);
    expect(new Set(results.map((r) => r.credentials.accessKeyId)).size).toBe(1);
    expect(results.filter((r) => !r.cached)).toHaveLength(1);
    expect((await readdir(cacheDir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('takes over a lock left by a process that died (older than the bound)', async () => {
    const { svidDir, cacheDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    const lock = join(cacheDir, `${cacheFileName(svid.cert.serialNumber.toLowerCase(), settings)}.lock`);
    await writeFile(lock, 'dead-process');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const result = await sessionForSvidDir({ svidDir, cacheDir, settings, now: () => clock.now, createSession: fake.create, lock: { staleMs: 30_000, pollMs: 1 } });
    expect(result.cached).toBe(false);
    expect(fake.calls).toHaveLength(1);
    expect(await readdir(cacheDir)).toHaveLength(1);
  });

  it('a refused CreateSession is explained and nothing is cached', async () => {
    const { svidDir, cacheDir } = await fresh();
    const refuse = async (): Promise<SessionCredentials> => {
      throw new RolesAnywhereError('AccessDeniedException', 403, `role ${settings.roleArn} is not one of the profile's roles`);
    };
    const error = await sessionForSvidDir({ svidDir, cacheDir, settings, now: () => T0, createSession: refuse }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadEdgeError);
    expect((error as WorkloadEdgeError).code).toBe('SessionRoleRefused');
    expect(await readdir(cacheDir)).toEqual([]);
  });
});

describe('credentialProcessJson', () => {
  it('is the Version 1 document credential_process consumers parse, Expiration in ISO 8601', () => {
    const json = credentialProcessJson({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 't', expiration: new Date('2030-01-01T01:00:00Z') });
    expect(json).toEqual({ Version: 1, AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 's', SessionToken: 't', Expiration: '2030-01-01T01:00:00.000Z' });
  });
});

describe('explainCreateSessionError', () => {
  const explain = (code: string, status: number, message: string): WorkloadEdgeError => {
    const explained = explainCreateSessionError(new RolesAnywhereError(code, status, message), { settings: { ...settings, durationSeconds: 99_999 } });
    expect(explained).toBeInstanceOf(WorkloadEdgeError);
    return explained as WorkloadEdgeError;
  };

  it.each([
    ['AccessDeniedException', 403, 'Untrusted certificate: the certificate does not chain to the trust anchor', 'SessionCertificateUntrusted', /trust anchor .*trust-anchor\/a.*CA that issued/],
    ['AccessDeniedException', 403, 'Untrusted signing certificate', 'SessionCertificateUntrusted', /CA that issued the SVID/],
    ['AccessDeniedException', 403, `unknown or disabled trust anchor ${settings.trustAnchorArn}`, 'SessionTrustAnchorRefused', /--trust-anchor-arn/],
    ['AccessDeniedException', 403, `unknown or disabled profile ${settings.profileArn}`, 'SessionProfileRefused', /profile is enabled/],
    ['AccessDeniedException', 403, `role ${settings.roleArn} is not one of the profile's roles`, 'SessionRoleRefused', /lists the role.*trust policy/],
    ['AccessDeniedException', 403, `Unable to assume role for arn ${settings.roleArn}`, 'SessionRoleRefused', /trust policy/],
    ['AccessDeniedException', 403, 'Signature expired: X-Amz-Date 20300101T000000Z is more than 5 minutes from the server time', 'SessionSignatureRefused', /clock/],
    ['AccessDeniedException', 403, '', 'SessionAccessDenied', /trust anchor.*profile.*role's trust policy/],
    ['ValidationException', 400, 'durationSeconds must be an integer from 900 to 43200', 'SessionDurationInvalid', /--duration-seconds/],
  ])('%s "%s" → %s', (code, status, message, expectedCode, fix) => {
    const error = explain(code, status, message);
    expect(error.code).toBe(expectedCode);
    expect(error.message).toContain(code); // what Roles Anywhere said is kept
    expect(error.fix).toMatch(fix);
  });

  it('an unreachable endpoint names it and what to check', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const error = explainCreateSessionError(refused, { settings }) as WorkloadEdgeError;
    expect(error.code).toBe('SessionEndpointUnreachable');
    expect(error.message).toContain(settings.endpoint);
    expect(error.fix).toContain('--endpoint');
  });
});

describe('fromSvid (SDK v3 credential provider)', () => {
  const options = (clock: { now: Date }, create: (input: CreateSessionInput) => Promise<SessionCredentials>) => ({
    trustAnchorArn: settings.trustAnchorArn,
    profileArn: settings.profileArn,
    roleArn: settings.roleArn,
    region: settings.region,
    now: () => clock.now,
    createSession: create,
  });

  it('50 concurrent calls share one CreateSession; cached until 5 minutes before expiry', async () => {
    const { svidDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const provider = fromSvid({ svidDir }, options(clock, fake.create));
    const identities = await Promise.all(Array.from({ length: 50 }, () => provider()));
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.endpoint).toBe('https://rolesanywhere.us-east-1.amazonaws.com');
    expect(new Set(identities.map((i) => i.accessKeyId)).size).toBe(1);
    const expiration = identities[0]?.expiration?.getTime() ?? 0;

    clock.now = new Date(expiration - 5 * MINUTE - 1);
    await Promise.all(Array.from({ length: 10 }, () => provider()));
    expect(fake.calls).toHaveLength(1);

    clock.now = new Date(expiration - 5 * MINUTE);
    const renewed = await Promise.all(Array.from({ length: 10 }, () => provider()));
    expect(fake.calls).toHaveLength(2);
    expect(new Set(renewed.map((i) => i.accessKeyId)).size).toBe(1);
  });

  it('a rotated SVID gets a new session on the next call', async () => {
    const { svidDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const provider = fromSvid({ svidDir }, options(clock, fake.create));
    const before = await provider();
    const next = await makeSvid(ca, { notBefore: new Date(T0.getTime() - HOUR), notAfter: new Date(T0.getTime() + 24 * HOUR) });
    await writeSvidDir(svidDir, next, ca);
    const after = await provider();
    expect(fake.calls).toHaveLength(2);
    expect(after.accessKeyId).not.toBe(before.accessKeyId);
    expect(new X509Certificate(fake.calls[1]?.certificatePem ?? '').serialNumber).toBe(next.cert.serialNumber);
  });

  it('an SVID that expired while its session was cached is reported as SvidExpired when the next session is due', async () => {
    const { svidDir } = await fresh();
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const provider = fromSvid({ svidDir }, options(clock, fake.create));
    await provider();
    clock.now = new Date(svid.cert.notAfter.getTime() + 1);
    const error = (await provider().catch((e: unknown) => e)) as WorkloadEdgeError;
    expect(error.code).toBe('SvidExpired');
    expect(error.fix).toContain('trellis svid fetch --watch');
    expect(fake.calls).toHaveLength(1);
  });

  it('takes an in-memory SVID source, and does not keep a failed CreateSession', async () => {
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    let fail = true;
    const flaky = async (input: CreateSessionInput): Promise<SessionCredentials> => {
      if (fail) throw new RolesAnywhereError('AccessDeniedException', 403, `unknown or disabled profile ${settings.profileArn}`);
      return fake.create(input);
    };
    const provider = fromSvid({ svid: async () => ({ certificatePem: svid.cert.toString('pem'), keyPem: svid.keyPem }) }, options(clock, flaky));
    const errors = await Promise.all(Array.from({ length: 3 }, () => provider().catch((e: unknown) => e)));
    for (const e of errors) expect((e as WorkloadEdgeError).code).toBe('SessionProfileRefused');
    fail = false;
    await provider();
    expect(fake.calls).toHaveLength(1);
  });
});

describe('sessions never outlive their certificate', () => {
  it('asks for the certificate\'s remaining life when it is shorter than the profile default, and trusts the session no longer', async () => {
    // 40 minutes of the SVID left at T0.
    const short = await makeSvid(ca, { notBefore: new Date(T0.getTime() - HOUR), notAfter: new Date(T0.getTime() + 40 * MINUTE) });
    const svidDir = join(root, `short-${++n}`);
    await writeSvidDir(svidDir, short, ca);
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const result = await sessionForSvidDir({ svidDir, cacheDir: join(svidDir, '..', `cache-${n}`), settings, now: () => clock.now, createSession: fake.create });
    expect(fake.calls[0]?.durationSeconds).toBe(40 * 60);
    expect(result.credentials.expiration.getTime()).toBe(T0.getTime() + 40 * MINUTE);
  });

  it('keeps an explicit duration shorter than the remaining life, and caps a longer one', async () => {
    const { sessionDurationFor } = await import('@trellis/client');
    const notAfter = new Date(T0.getTime() + 2 * HOUR);
    expect(sessionDurationFor(notAfter, T0)).toBeUndefined();
    expect(sessionDurationFor(notAfter, T0, 1800)).toBe(1800);
    expect(sessionDurationFor(notAfter, T0, 43_200)).toBe(7200);
    // Roles Anywhere's minimum is 900 s: with less left, 900 is asked and the expiration is capped instead.
    expect(sessionDurationFor(new Date(T0.getTime() + 5 * MINUTE), T0)).toBe(900);
  });

  it('fromSvid asks for no more than the remaining life either', async () => {
    const short = await makeSvid(ca, { notBefore: new Date(T0.getTime() - HOUR), notAfter: new Date(T0.getTime() + 20 * MINUTE) });
    const svidDir = join(root, `short-${++n}`);
    await writeSvidDir(svidDir, short, ca);
    const clock = { now: T0 };
    const fake = fakeCreateSession(clock);
    const provider = fromSvid({ svidDir }, { ...settings, now: () => clock.now, createSession: fake.create });
    const credentials = await provider();
    expect(fake.calls[0]?.durationSeconds).toBe(20 * 60);
    expect(credentials.expiration?.getTime()).toBe(T0.getTime() + 20 * MINUTE);
  });
});
