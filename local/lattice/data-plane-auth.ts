/**
 * Who is calling the local Lattice data plane. Two ways in, checked in this order:
 *  1. SigV4 (an `Authorization` header): as Lattice does, signing name `vpc-lattice-svcs`,
 *     `x-amz-content-sha256: UNSIGNED-PAYLOAD`, credentials issued by the local Roles Anywhere
 *     (verifySigV4Request + the credential store). A signed request that fails → refused.
 *  2. mTLS (no `Authorization`, a client certificate on the connection): the certificate must chain to
 *     the trust bundle, be valid now (the same checks the local Roles Anywhere applies) AND be an
 *     X509-SVID: exactly one URI SAN, a SPIFFE ID. The caller then IS the session Roles Anywhere would
 *     have made from that certificate (sessionPrincipalFor: same principal ARN, session name and tags).
 *     Decision on a certificate with two URI SANs: Roles Anywhere maps only the first one into
 *     `x509SAN/URI`, so over SigV4 such a certificate's session is judged on its first URI; the mTLS
 *     path, which is Trellis's own, refuses any certificate that is not a valid X509-SVID.
 *  Neither → anonymous (Lattice evaluates unsigned requests as the anonymous principal; Trellis's
 *  compiled policies never allow it, so the answer is 403).
 */
import { LATTICE_SIGNING_NAME } from '@trellis/client';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from '../../shared/x509';
import { ANONYMOUS_PRINCIPAL } from '../../shared/policy/evaluator';
import { parseSpiffeId } from '../../shared/spiffe/spiffe-id';
import { readSanNames } from '../../shared/svid/san';
import { checkCertificate } from '../roles-anywhere/certificate-checks';
import { roleIdFor, sessionPrincipalFor, type CredentialStore } from '../roles-anywhere/credentials';
import { sigV4PartsFromIncoming, verifySigV4Request } from '../roles-anywhere/sigv4-verify';


export type AuthMethod = 'sigv4' | 'mtls' | 'anonymous';

export interface Caller {
  authenticatedBy: AuthMethod;
  /** The assumed-role session ARN, or ANONYMOUS_PRINCIPAL. */
  principal: string;
  /** The role the session belongs to (aws:PrincipalArn); absent for anonymous callers. */
  roleArn?: string;
  sessionName?: string;
  /** aws:userid of the session: `<role unique id>:<session name>` (the session name is the certificate serial). */
  userId?: string;
  /** Principal tags (aws:PrincipalTag/<key>). */
  tags: Record<string, string>;
}

export type AuthResult = { ok: true; caller: Caller } | { ok: false; authenticatedBy: AuthMethod; reason: string; message: string };

export const ANONYMOUS_CALLER: Caller = { authenticatedBy: 'anonymous', principal: ANONYMOUS_PRINCIPAL, tags: {} };

export interface AuthenticatorOptions {
  region: string;
  credentials: CredentialStore;
  /** The trust bundle's CA certificate PEMs, read on every new connection (the CA may rotate). */
  trustBundle: () => string[];
  /** The stage's Roles Anywhere workload role: mTLS callers are sessions of it. */
  roleArn: string;
  now: () => Date;
}

interface VerifiedConnection {
  bundle: string;
  validFrom: number;
  validUntil: number;
  leaf: X509Certificate;
  result: AuthResult;
}

const refuse = (authenticatedBy: AuthMethod, reason: string, message: string): AuthResult => ({ ok: false, authenticatedBy, reason, message });

/** The client's certificates as Node received them: leaf first, then what the client sent with it. */
function peerChain(socket: TLSSocket): Buffer[] {
  const peer = socket.getPeerCertificate(true);
  if (peer === null || typeof peer !== 'object' || !Buffer.isBuffer(peer.raw)) return [];
  const chain: Buffer[] = [peer.raw];
  let current = peer;
  for (let i = 0; i < 8; i += 1) {
    const next = current.issuerCertificate as typeof peer | undefined;
    if (next === undefined || next === current || !Buffer.isBuffer(next.raw) || next.raw.equals(current.raw)) break;
    chain.push(next.raw);
    current = next;
  }
  return chain;
}

/** X509-SVID rule the data plane enforces on top of the Roles Anywhere certificate checks. */
function svidProblem(leaf: X509Certificate): string | undefined {
  let uris: string[];
  try {
    uris = readSanNames(leaf.extensions).filter((n) => n.type === 'uri').map((n) => n.value);
  } catch {
    return 'its subjectAltName extension cannot be decoded';
  }
  const [uri] = uris;
  if (uris.length !== 1 || uri === undefined) return `an X509-SVID has exactly one URI SAN; this certificate has ${uris.length}`;
  const parsed = parseSpiffeId(uri);
  if (!parsed.ok) return `its URI SAN "${uri}" is not a SPIFFE ID: ${parsed.message}`;
  if (parsed.id.path === '') return `its URI SAN "${uri}" names a trust domain, not a workload`;
  return undefined;
}

export class Authenticator {
  /**
   * mTLS verification is per connection (the certificate cannot change on it): the result is kept
   * while the trust bundle is unchanged and the certificates are within their validity. Revocation
   * is the auth policy's business, evaluated on every request (its deny on aws:userid), exactly as
   * for SigV4 callers: no separate revocation check.
   */
  private readonly connections = new WeakMap<TLSSocket, VerifiedConnection>();

  constructor(private readonly options: AuthenticatorOptions) {}

  async authenticate(req: IncomingMessage): Promise<AuthResult> {
    if (req.headers.authorization !== undefined) return this.sigV4(req);
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return { ok: true, caller: ANONYMOUS_CALLER };
    return this.mtls(socket);
  }

  private async sigV4(req: IncomingMessage): Promise<AuthResult> {
    const now = this.options.now();
    const verified = await verifySigV4Request({
      ...sigV4PartsFromIncoming(req),
      service: LATTICE_SIGNING_NAME,
      region: this.options.region,
      lookup: (accessKeyId) => this.options.credentials.lookup(accessKeyId),
      now,
    });
    if (!verified.ok) return refuse('sigv4', verified.reason, verified.message);
    const { session } = verified;
    return {
      ok: true,
      caller: {
        authenticatedBy: 'sigv4',
        principal: session.principalArn,
        roleArn: session.roleArn,
        sessionName: session.sessionName,
        userId: session.assumedRoleId,
        tags: session.tags,
      },
    };
  }

  private async mtls(socket: TLSSocket): Promise<AuthResult> {
    const now = this.options.now().getTime();
    const bundlePems = this.options.trustBundle();
    const bundle = bundlePems.join('\n');
    const cached = this.connections.get(socket);
    if (cached !== undefined && cached.bundle === bundle && cached.validFrom <= now && now <= cached.validUntil) return cached.result;

    const chain = peerChain(socket);
    const [leafDer, ...rest] = chain;
    if (leafDer === undefined) return { ok: true, caller: ANONYMOUS_CALLER };
    let leaf: X509Certificate;
    let intermediates: X509Certificate[];
    try {
      leaf = new X509Certificate(leafDer);
      intermediates = rest.map((der) => new X509Certificate(der));
    } catch {
      return refuse('mtls', 'malformed-certificate', 'the client certificate cannot be decoded');
    }
    const trust = await checkCertificate({
      leaf,
      intermediates,
      anchors: bundlePems,
      now: new Date(now),
    });
    let result: AuthResult;
    if (!trust.ok) {
      result = refuse('mtls', 'untrusted-certificate', `the client certificate is not trusted: ${trust.message}`);
    } else {
      const problem = svidProblem(leaf);
      if (problem !== undefined) {
        result = refuse('mtls', 'not-an-x509-svid', `the client certificate is not a valid X509-SVID: ${problem}`);
      } else {
        const session = sessionPrincipalFor(this.options.roleArn, leaf);
        result = {
          ok: true,
          caller: {
            authenticatedBy: 'mtls',
            principal: session.principalArn,
            roleArn: session.roleArn,
            sessionName: session.sessionName,
            userId: `${roleIdFor(session.roleArn)}:${session.sessionName}`,
            tags: session.tags,
          },
        };
      }
    }
    // Only successes are kept: a refused certificate is re-checked (and refused again) on each request.
    if (result.ok && trust.ok) {
      this.connections.set(socket, {
        bundle,
        validFrom: Math.max(...trust.chain.map((c) => c.notBefore.getTime())),
        validUntil: Math.min(...trust.chain.map((c) => c.notAfter.getTime())),
        leaf,
        result,
      });
    }
    return result;
  }
}
