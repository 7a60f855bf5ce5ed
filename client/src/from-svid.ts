/**
 * An AWS SDK v3 credential provider backed by the workload's X.509-SVID and IAM Roles Anywhere:
 *
 *   const s3 = new S3Client({ region, credentials: fromSvid({ svidDir: '/run/trellis' }, { trustAnchorArn, profileArn, roleArn, region }) });
 *
 * The session is kept in memory until 5 minutes before it expires; concurrent callers share one
 * in-flight CreateSession; the SVID is read on every call, so a rotated SVID (a new serial) gets a new
 * session at once instead of signing with a session of a certificate that is gone.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { SessionCredentials } from './roles-anywhere-signer';
import { createSessionFor, isFresh, type CreateSessionFn } from './session-cache';
import { readSvidFiles } from './svid-files';
import { assertNotExpired, checkSvidMaterial, loadSvidMaterial, type SvidMaterial } from './svid-material';
import type { RolesAnywhereSettings } from './workload';

export type SvidSource = { svidDir: string } | { svid: () => Promise<{ certificatePem: string; keyPem: string }> };

export interface FromSvidOptions {
  trustAnchorArn: string;
  profileArn: string;
  roleArn: string;
  region: string;
  /** Default https://rolesanywhere.<region>.amazonaws.com. */
  endpoint?: string;
  durationSeconds?: number;
  /** PEM CA bundle for a private endpoint certificate. */
  ca?: string;
  now?: () => Date;
  /** CreateSession implementation (tests); default the real one. */
  createSession?: CreateSessionFn;
}

export const rolesAnywhereEndpoint = (region: string): string => `https://rolesanywhere.${region}.amazonaws.com`;

export function fromSvid(source: SvidSource, options: FromSvidOptions): AwsCredentialIdentityProvider {
  const now = options.now ?? (() => new Date());
  const settings: RolesAnywhereSettings = {
    endpoint: options.endpoint ?? rolesAnywhereEndpoint(options.region),
    region: options.region,
    trustAnchorArn: options.trustAnchorArn,
    profileArn: options.profileArn,
    roleArn: options.roleArn,
    ...(options.durationSeconds === undefined ? {} : { durationSeconds: options.durationSeconds }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };

  // The checked material of the last SVID seen, keyed by the raw text read: checking (chain build,
  // key import) runs once per SVID, not once per call.
  let material: { raw: string; promise: Promise<SvidMaterial> } | undefined;
  const materialNow = async (): Promise<SvidMaterial> => {
    const raw = 'svidDir' in source ? await readSvidFiles(source.svidDir) : await source.svid();
    const key = `${raw.certificatePem}\u0000${raw.keyPem}\u0000${'bundlePem' in raw ? raw.bundlePem : ''}`;
    if (material?.raw !== key) {
      const entry = {
        raw: key,
        // The directory loader re-reads once on a key/certificate mismatch (a rotation between renames).
        promise: 'svidDir' in source ? loadSvidMaterial(source.svidDir, { now }) : checkSvidMaterial(raw, { now }),
      };
      material = entry;
      entry.promise.catch(() => {
        if (material === entry) material = undefined;
      });
    }
    return material.promise;
  };

  let current: { serialHex: string; promise: Promise<SessionCredentials> } | undefined;
  const sessionFor = async (svid: SvidMaterial): Promise<SessionCredentials> => {
    const entry = current;
    if (entry !== undefined && entry.serialHex === svid.serialHex) {
      const credentials = await entry.promise;
      if (isFresh(credentials, now())) return credentials;
      // Stale: the first caller to get here starts the next session, the others join it.
      if (current !== entry) return sessionFor(svid);
    }
    // The material was checked when first read; an SVID that has expired since (its agent stopped
    // renewing it) is reported as such rather than as Roles Anywhere's refusal.
    assertNotExpired(svid.notAfter, now(), 'svidDir' in source ? source.svidDir : 'the SVID source');
    const next = {
      serialHex: svid.serialHex,
      promise: createSessionFor(svid, settings, { now, ...(options.createSession === undefined ? {} : { createSession: options.createSession }) }),
    };
    current = next;
    // A failed CreateSession is not cached: the callers waiting on it get the error, the next call tries again.
    next.promise.catch(() => {
      if (current === next) current = undefined;
    });
    return next.promise;
  };

  return async (): Promise<AwsCredentialIdentity> => {
    const credentials = await sessionFor(await materialNow());
    return {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: credentials.expiration,
    };
  };
}
