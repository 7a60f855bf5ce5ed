/**
 * Temporary credentials issued by the local Roles Anywhere, and the store the local Lattice data
 * plane reads to authenticate SigV4 callers (as STS-backed sessions are on AWS).
 */
import { readSanNames } from '../../shared/svid/san';
import { createHash, randomBytes } from 'node:crypto';
import { type X509Certificate } from '../../shared/x509';
import { principalTagsFromCertificate, sessionNameFromCertificate } from './session-tags';
import { sourceIdentityOf } from './source-identity';

export interface RolesAnywhereSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  /** The assumed-role ARN: arn:aws:sts::<acct>:assumed-role/<role name>/<session name>. */
  principalArn: string;
  roleArn: string;
  /** The role session name: the certificate serial number in hex. */
  sessionName: string;
  /** Principal tags from the certificate (aws:PrincipalTag/<key>). */
  tags: Record<string, string>;
  sourceIdentity?: string;
  trustAnchorArn: string;
  /** "AROA…:<session name>" */
  assumedRoleId: string;
}

export interface CredentialStore {
  lookup(accessKeyId: string): RolesAnywhereSession | undefined;
}

/** Sessions kept this long past expiry still answer lookup (so callers can tell "expired" from "unknown"). */
const KEEP_EXPIRED_MS = 60 * 60 * 1000;

export class InMemoryCredentialStore implements CredentialStore {
  private readonly sessions = new Map<string, RolesAnywhereSession>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  put(session: RolesAnywhereSession): void {
    const cutoff = this.now().getTime() - KEEP_EXPIRED_MS;
    for (const [key, s] of this.sessions) if (s.expiration.getTime() < cutoff) this.sessions.delete(key);
    this.sessions.set(session.accessKeyId, session);
  }

  lookup(accessKeyId: string): RolesAnywhereSession | undefined {
    return this.sessions.get(accessKeyId);
  }

  get size(): number {
    return this.sessions.size;
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const base32 = (bytes: Uint8Array, length: number): string => Array.from(bytes.subarray(0, length), (b) => BASE32[b % 32]).join('');

/** STS-shaped temporary access key id: "ASIA" + 16 upper-case base32 characters. */
export const newAccessKeyId = (): string => `ASIA${base32(randomBytes(16), 16)}`;

/** Parses arn:aws:iam::<account>:role[/path]/<name>. */
export function parseRoleArn(roleArn: string): { partition: string; accountId: string; roleName: string } {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (m === null) throw new Error(`not an IAM role ARN: ${roleArn}`);
  return { partition: m[1] ?? 'aws', accountId: m[2] ?? '', roleName: m[3] ?? '' };
}

/**
 * Who a session made with this certificate is: the assumed-role ARN (session name = the serial in
 * hex, as local/roles-anywhere/session-tags.ts spells it), its principal tags and source identity.
 * CreateSession and the local Lattice data plane's mTLS path both call this, so a caller gets the
 * same identity whichever way it authenticates.
 */
export interface SessionPrincipal {
  principalArn: string;
  roleArn: string;
  sessionName: string;
  tags: Record<string, string>;
  sourceIdentity: string | undefined;
}

export function sessionPrincipalFor(roleArn: string, leaf: X509Certificate): SessionPrincipal {
  const { partition, accountId, roleName } = parseRoleArn(roleArn);
  const sessionName = sessionNameFromCertificate(leaf);
  return {
    principalArn: `arn:${partition}:sts::${accountId}:assumed-role/${roleName}/${sessionName}`,
    roleArn,
    sessionName,
    tags: principalTagsFromCertificate(leaf),
    sourceIdentity: sourceIdentityOf(leaf),
  };
}

/** A stable "AROA…" role id per role ARN (real role ids are stable per role). */
export const roleIdFor = (roleArn: string): string => `AROA${base32(createHash('sha256').update(roleArn).digest(), 17)}`;

function firstUriSan(cert: X509Certificate): string {
  try {
    return readSanNames(cert.extensions).find((n) => n.type === 'uri')?.value ?? '';
  } catch {
    return '';
  }
}

/**
 * subjectArn: Roles Anywhere keeps one "subject" per certificate identity. UNCONFIRMED what it
 * keys on; locally a UUID derived from subject DN, issuer DN and first URI SAN (SVIDs often have
 * an empty subject, so the SPIFFE ID is what tells them apart).
 */
export function subjectArnFor(region: string, accountId: string, cert: X509Certificate, partition = 'aws'): string {
  const h = createHash('sha256').update(`${cert.subject}\n${cert.issuer}\n${firstUriSan(cert)}`).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `arn:${partition}:rolesanywhere:${region}:${accountId}:subject/${uuid}`;
}

export interface IssueSessionInput {
  roleArn: string;
  trustAnchorArn: string;
  leaf: X509Certificate;
  durationSeconds: number;
  now: Date;
}

export function issueSession(input: IssueSessionInput): RolesAnywhereSession {
  const { principalArn, sessionName, tags, sourceIdentity } = sessionPrincipalFor(input.roleArn, input.leaf);
  return {
    accessKeyId: newAccessKeyId(),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(144).toString('base64'), // opaque, like STS tokens
    // Whole seconds, so the stored expiry equals the one written in the response.
    expiration: new Date(Math.floor(input.now.getTime() / 1000) * 1000 + input.durationSeconds * 1000),
    principalArn,
    roleArn: input.roleArn,
    sessionName,
    tags,
    ...(sourceIdentity === undefined ? {} : { sourceIdentity }),
    trustAnchorArn: input.trustAnchorArn,
    assumedRoleId: `${roleIdFor(input.roleArn)}:${sessionName}`,
  };
}

/** ISO 8601 without milliseconds, as STS writes expirations (UNCONFIRMED for Roles Anywhere). */
const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * packedPolicySize is STS's percentage of the packed session-policy/tag budget. UNCONFIRMED how
 * AWS computes it; locally a rough share of a 2 KiB budget used by the tags.
 */
const packedPolicySize = (tags: Record<string, string>): number =>
  Math.min(100, Math.ceil((Buffer.byteLength(JSON.stringify(tags)) * 100) / 2048));

/** The 201 body of CreateSession. */
export function createSessionResponseBody(session: RolesAnywhereSession, subjectArn: string): Record<string, unknown> {
  return {
    credentialSet: [
      {
        assumedRoleUser: { arn: session.principalArn, assumedRoleId: session.assumedRoleId },
        credentials: {
          accessKeyId: session.accessKeyId,
          secretAccessKey: session.secretAccessKey,
          sessionToken: session.sessionToken,
          expiration: isoSeconds(session.expiration),
        },
        packedPolicySize: packedPolicySize(session.tags),
        roleArn: session.roleArn,
        ...(session.sourceIdentity === undefined ? {} : { sourceIdentity: session.sourceIdentity }),
      },
    ],
    subjectArn,
  };
}
