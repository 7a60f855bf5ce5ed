/**
 * Roles Anywhere sessions for `trellis credential-process`, cached in files. The AWS SDKs run the
 * credential process once per client (and again on every refresh), each time as a new process: an
 * in-memory cache cannot help, and without a cache every SDK client of every program on the host
 * would call CreateSession. So sessions live in `cacheDir` (0700, files 0600: they are credentials),
 * one file per certificate serial + role + profile + trust anchor + endpoint, and processes that
 * start together share one CreateSession through a lock file.
 *
 * The SVID files are read on every call: a rotated SVID has a new serial, so it maps to a new cache
 * file and gets a new session at once; the old file simply stops being used.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WorkloadEdgeError } from './edge-error';
import { createSession as realCreateSession, RolesAnywhereError, type CreateSessionInput, type SessionCredentials } from './roles-anywhere-signer';
import { writeFileAtomic } from './svid-files';
import { loadSvidMaterial, type SvidMaterial } from './svid-material';
import { capExpiration, sessionDurationFor } from './session-duration';
import { SESSION_REFRESH_MARGIN_MS, type RolesAnywhereSettings } from './workload';

export type CreateSessionFn = (input: CreateSessionInput) => Promise<SessionCredentials>;

export const defaultCacheDir = (): string => join(homedir(), '.cache', 'trellis');

/** true while the credentials are more than SESSION_REFRESH_MARGIN_MS (5 minutes) from expiring. */
export const isFresh = (credentials: SessionCredentials, now: Date): boolean => credentials.expiration.getTime() - SESSION_REFRESH_MARGIN_MS > now.getTime();

/** The cache file of a session: a hash, so ARNs and endpoints need no escaping and are not shown in a listing. */
export function cacheFileName(serialHex: string, settings: Pick<RolesAnywhereSettings, 'roleArn' | 'profileArn' | 'trustAnchorArn' | 'endpoint'>): string {
  const key = JSON.stringify([serialHex, settings.roleArn, settings.profileArn, settings.trustAnchorArn, settings.endpoint]);
  return `session-${createHash('sha256').update(key).digest('hex').slice(0, 40)}.json`;
}

interface CacheRecord {
  version: 1;
  serialHex: string;
  roleArn: string;
  profileArn: string;
  credentials: Omit<SessionCredentials, 'expiration'> & { expiration: string };
}

async function readCache(path: string): Promise<SessionCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const record = JSON.parse(text) as Partial<CacheRecord>;
    const c = record.credentials;
    if (record.version !== 1 || c === undefined || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string' || typeof c.sessionToken !== 'string') return undefined;
    const expiration = new Date(c.expiration);
    if (Number.isNaN(expiration.getTime())) return undefined;
    return { ...c, expiration };
  } catch {
    return undefined; // a damaged file is replaced by the next session
  }
}

async function writeCache(path: string, material: SvidMaterial, settings: RolesAnywhereSettings, credentials: SessionCredentials): Promise<void> {
  const record: CacheRecord = {
    version: 1,
    serialHex: material.serialHex,
    roleArn: settings.roleArn,
    profileArn: settings.profileArn,
    credentials: { ...credentials, expiration: credentials.expiration.toISOString() },
  };
  await writeFileAtomic(path, `${JSON.stringify(record)}\n`, 0o600);
}

export interface LockOptions {
  /** A lock older than this is taken over (its holder died or hung); default 30 s, CreateSession's own timeout. */
  staleMs?: number;
  /** How often a waiter looks at the lock and the cache; default 20 ms. */
  pollMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tries to take the lock file (O_CREAT|O_EXCL, so exactly one process wins). Hand-written because
 * the project has no lock-file library and the protocol is a dozen lines; proper-lockfile would do.
 */
async function tryLock(lockPath: string, token: string, staleMs: number): Promise<boolean> {
  try {
    const handle = await open(lockPath, 'wx', 0o600);
    await handle.writeFile(token);
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    const info = await stat(lockPath);
    if (Date.now() - info.mtimeMs > staleMs) {
      // Rename first: of several waiters that saw the same stale lock, one rename succeeds and the
      // others fail with ENOENT, so they do not delete each other's fresh lock.
      const aside = `${lockPath}.${token}.stale`;
      await rename(lockPath, aside);
      await rm(aside, { force: true });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return false;
}

async function unlock(lockPath: string, token: string): Promise<void> {
  // Only remove our own lock: after a takeover the file may be another process's.
  const content = await readFile(lockPath, 'utf8').catch(() => undefined);
  if (content === token) await rm(lockPath, { force: true });
}

/** How Roles Anywhere refusals read to a person: the likely cause and what to check, not a bare code. */
export function explainCreateSessionError(error: unknown, context: { settings: Pick<RolesAnywhereSettings, 'endpoint' | 'trustAnchorArn' | 'profileArn' | 'roleArn' | 'durationSeconds'>; material?: Pick<SvidMaterial, 'serialHex' | 'spiffeId'> }): unknown {
  const { settings } = context;
  const who = context.material === undefined ? 'the SVID' : `the SVID ${context.material.spiffeId} (serial ${context.material.serialHex})`;
  if (error instanceof RolesAnywhereError) {
    const said = `Roles Anywhere said ${error.code}: ${error.message}`;
    const m = error.message.toLowerCase();
    if (error.code === 'ValidationException' && m.includes('duration')) {
      return new WorkloadEdgeError('SessionDurationInvalid', `CreateSession refused the session duration ${settings.durationSeconds ?? '(profile default)'} (${said})`, 'pass --duration-seconds between 900 and 43200 and no more than the profile\'s durationSeconds allows', { cause: error });
    }
    if (error.code === 'AccessDeniedException' || error.status === 403) {
      const untrusted = m.includes('untrusted') || m.includes('chain') || (m.includes('certificate') && !m.includes('signature') && !m.includes('trust anchor'));
      if (untrusted) {
        return new WorkloadEdgeError(
          'SessionCertificateUntrusted',
          `Roles Anywhere does not trust ${who} (${said})`,
          `check that trust anchor ${settings.trustAnchorArn} is enabled and its source is the CA that issued the SVID (the ACM PCA ARN or the CA bundle Trellis uses), that the CA was not replaced since the SVID was issued, and that the certificate is not revoked or expired`,
          { cause: error },
        );
      }
      if (m.includes('trust anchor')) {
        return new WorkloadEdgeError('SessionTrustAnchorRefused', `Roles Anywhere refused trust anchor ${settings.trustAnchorArn} (${said})`, `check the trust anchor ARN (--trust-anchor-arn) and that the trust anchor exists in this account and region and is enabled (aws rolesanywhere get-trust-anchor)`, { cause: error });
      }
      if (m.includes('profile') && !m.includes("profile's roles")) {
        return new WorkloadEdgeError('SessionProfileRefused', `Roles Anywhere refused profile ${settings.profileArn} (${said})`, `check the profile ARN (--profile-arn) and that the profile is enabled (aws rolesanywhere get-profile) in the same region as the endpoint ${settings.endpoint}`, { cause: error });
      }
      if (m.includes('role') || m.includes('assume')) {
        return new WorkloadEdgeError(
          'SessionRoleRefused',
          `Roles Anywhere would not let ${who} assume role ${settings.roleArn} (${said})`,
          `check that profile ${settings.profileArn} lists the role in its roleArns, and that the role's trust policy allows rolesanywhere.amazonaws.com to sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity with conditions (aws:SourceArn = the trust anchor, aws:PrincipalTag/x509…) the certificate meets`,
          { cause: error },
        );
      }
      if (m.includes('signature') || m.includes('x-amz-date') || m.includes('expired')) {
        return new WorkloadEdgeError('SessionSignatureRefused', `Roles Anywhere refused the request signature (${said})`, "check this machine's clock (signatures older than 5 minutes are refused) and that svid-key.pem belongs to svid.pem", { cause: error });
      }
      return new WorkloadEdgeError(
        'SessionAccessDenied',
        `Roles Anywhere refused the session for ${who} (${said})`,
        `check, in order: trust anchor ${settings.trustAnchorArn} is enabled and trusts the CA that issued the SVID; profile ${settings.profileArn} is enabled and lists role ${settings.roleArn}; the role's trust policy allows rolesanywhere.amazonaws.com (sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity) under conditions this certificate meets; all three are in the endpoint's region`,
        { cause: error },
      );
    }
    if (error.code === 'ResourceNotFoundException' || error.status === 404) {
      return new WorkloadEdgeError('SessionResourceNotFound', `Roles Anywhere found no such resource (${said})`, `check the endpoint ${settings.endpoint} is the Roles Anywhere endpoint of the region the trust anchor and profile ARNs name`, { cause: error });
    }
    return new WorkloadEdgeError('SessionRefused', `CreateSession failed (${said})`, `check the endpoint ${settings.endpoint}, the ARNs and --duration-seconds`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || /timed out/.test(message)) {
    return new WorkloadEdgeError(
      'SessionEndpointUnreachable',
      `cannot reach Roles Anywhere at ${settings.endpoint} (${code ?? message})`,
      'check --endpoint (https://rolesanywhere.<region>.amazonaws.com, or the local stack\'s rolesAnywhere endpoint: is `npm start` running?), DNS, proxies and egress rules; a private CA for the endpoint goes in the `ca` setting',
      { cause: error },
    );
  }
  return error;
}

/** CreateSession with the SVID material; refusals become WorkloadEdgeErrors that name what to check. */
export async function createSessionFor(material: SvidMaterial, settings: RolesAnywhereSettings, options: { createSession?: CreateSessionFn; now?: () => Date } = {}): Promise<SessionCredentials> {
  const create = options.createSession ?? realCreateSession;
  // Never longer than the certificate's remaining life (see session-duration.ts).
  const durationSeconds = sessionDurationFor(material.notAfter, options.now ? options.now() : new Date(), settings.durationSeconds);
  try {
    const credentials = await create({
      endpoint: settings.endpoint,
      region: settings.region,
      trustAnchorArn: settings.trustAnchorArn,
      profileArn: settings.profileArn,
      roleArn: settings.roleArn,
      certificatePem: material.certificatePem,
      chainPems: material.chainPems,
      privateKey: material.privateKey,
      ...(durationSeconds === undefined ? {} : { durationSeconds }),
      ...(settings.ca === undefined ? {} : { ca: settings.ca }),
      ...(options.now === undefined ? {} : { signingDate: options.now() }),
    });
    return capExpiration(credentials, material.notAfter);
  } catch (error) {
    throw explainCreateSessionError(error, { settings, material });
  }
}

export interface SessionForSvidDirInput {
  svidDir: string;
  settings: RolesAnywhereSettings;
  /** Default ~/.cache/trellis. */
  cacheDir?: string;
  /** Clock for SVID validity and cache freshness (tests); lock staleness uses the real clock (it is about processes). */
  now?: () => Date;
  createSession?: CreateSessionFn;
  lock?: LockOptions;
}

export interface CachedSession {
  credentials: SessionCredentials;
  /** true when answered from the cache file (no CreateSession by this call). */
  cached: boolean;
  serialHex: string;
}

/** The session for the SVID in `svidDir`: from the cache while fresh, else one CreateSession shared by concurrent processes. */
export async function sessionForSvidDir(input: SessionForSvidDirInput): Promise<CachedSession> {
  const now = input.now ?? (() => new Date());
  const material = await loadSvidMaterial(input.svidDir, { now });
  const cacheDir = input.cacheDir ?? defaultCacheDir();
  // A new directory is made 0700; an existing one is used as it is (it may be a shared --cache-dir):
  // the files in it are 0600 either way.
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const path = join(cacheDir, cacheFileName(material.serialHex, input.settings));
  const fromCache = async (): Promise<CachedSession | undefined> => {
    const credentials = await readCache(path);
    return credentials !== undefined && isFresh(credentials, now()) ? { credentials, cached: true, serialHex: material.serialHex } : undefined;
  };

  const hit = await fromCache();
  if (hit !== undefined) return hit;

  const lockPath = `${path}.lock`;
  const token = `${process.pid}.${randomBytes(8).toString('hex')}`;
  const staleMs = input.lock?.staleMs ?? 30_000;
  const pollMs = input.lock?.pollMs ?? 20;
  while (!(await tryLock(lockPath, token, staleMs))) {
    await sleep(pollMs);
    // The holder writes the cache before it unlocks: a waiter is usually answered here.
    const shared = await fromCache();
    if (shared !== undefined) return shared;
  }
  try {
    // Another process may have finished between our cache miss and taking the lock.
    const shared = await fromCache();
    if (shared !== undefined) return shared;
    const credentials = await createSessionFor(material, input.settings, { ...(input.createSession === undefined ? {} : { createSession: input.createSession }), now });
    await writeCache(path, material, input.settings, credentials);
    return { credentials, cached: false, serialHex: material.serialHex };
  } finally {
    await unlock(lockPath, token);
  }
}

/** The JSON an AWS SDK or CLI expects on stdout from a `credential_process` (Version 1). */
export interface CredentialProcessOutput {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

export function credentialProcessJson(credentials: Pick<SessionCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'expiration'>): CredentialProcessOutput {
  return {
    Version: 1,
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    SessionToken: credentials.sessionToken,
    Expiration: credentials.expiration.toISOString(),
  };
}
