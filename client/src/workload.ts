/**
 * The workload side of Trellis in one place, for the `npm start` demo and a later CLI: a key pair
 * and CSR made here (the private key never leaves), the SVID once Trellis issued it, IAM Roles Anywhere
 * credentials from that SVID, and calls to Lattice services signed with them (or, where the endpoint
 * accepts it, mTLS with the SVID itself). Works unchanged against the real Roles Anywhere and Lattice
 * endpoints: everything environment-specific is an argument.
 */
import type { webcrypto } from 'node:crypto';
import type { Agent } from 'node:http';
import type { HttpResponse } from './http-transport';
import { createCsr, generateKeyPair, type KeyAlgorithm } from './keys';
import { mtlsFetch } from './mtls-request';
import { createSession, type SessionCredentials } from './roles-anywhere-signer';
import { signedFetch } from './sigv4-request';
import { capExpiration, certificateNotAfter, sessionDurationFor } from './session-duration';

export interface RolesAnywhereSettings {
  /** https://rolesanywhere.<region>.amazonaws.com, or the local stand-in's endpoint. */
  endpoint: string;
  region: string;
  trustAnchorArn: string;
  profileArn: string;
  roleArn: string;
  durationSeconds?: number;
  /** CA bundle for a private endpoint certificate. */
  ca?: string;
}

export interface Svid {
  certificatePem: string;
  /** Intermediates between the SVID and the trust anchor (none when the root CA issues directly). */
  chainPems?: string[];
}

export interface ServiceCall {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** CA bundle that signed the service endpoint's certificate (the local data plane's CA). */
  ca?: string;
  agent?: Agent;
}

/** Credentials are renewed this long before they expire. */
export const SESSION_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export class Workload {
  private svidValue: Svid | undefined;
  private session: { settings: RolesAnywhereSettings; credentials: SessionCredentials } | undefined;

  private constructor(
    readonly spiffeId: string,
    readonly keys: webcrypto.CryptoKeyPair,
    /** The CSR to register the workload with (POST /workloads) or submit later. */
    readonly csrPem: string,
    private readonly now: () => Date,
  ) {}

  /** A new key pair (non-extractable private key) and its CSR. */
  static async create(input: { spiffeId: string; algorithm?: KeyAlgorithm; commonName?: string; now?: () => Date }): Promise<Workload> {
    const keys = await generateKeyPair(input.algorithm ?? 'P-256', { extractable: false });
    const csrPem = await createCsr({ keys, spiffeId: input.spiffeId, ...(input.commonName === undefined ? {} : { commonName: input.commonName }) });
    return new Workload(input.spiffeId, keys, csrPem, input.now ?? (() => new Date()));
  }

  /** Takes the SVID Trellis issued (e.g. from GET /workloads/{id}/svid); drops credentials of an older one. */
  useSvid(svid: Svid): void {
    this.svidValue = { certificatePem: svid.certificatePem, ...(svid.chainPems === undefined ? {} : { chainPems: svid.chainPems }) };
    this.session = undefined;
  }

  get svid(): Svid {
    if (this.svidValue === undefined) throw new Error(`${this.spiffeId} has no SVID yet: call useSvid first`);
    return this.svidValue;
  }

  /** Roles Anywhere credentials for the current SVID, reused until SESSION_REFRESH_MARGIN_MS before expiry. */
  async credentials(settings: RolesAnywhereSettings): Promise<SessionCredentials> {
    const current = this.session;
    if (current !== undefined && current.settings === settings && current.credentials.expiration.getTime() - SESSION_REFRESH_MARGIN_MS > this.now().getTime()) {
      return current.credentials;
    }
    const { svid } = this;
    // Never longer than the certificate's remaining life (see session-duration.ts).
    const notAfter = certificateNotAfter(svid.certificatePem);
    const durationSeconds = sessionDurationFor(notAfter, this.now(), settings.durationSeconds);
    const created = await createSession({
      endpoint: settings.endpoint,
      region: settings.region,
      trustAnchorArn: settings.trustAnchorArn,
      profileArn: settings.profileArn,
      roleArn: settings.roleArn,
      certificatePem: svid.certificatePem,
      ...(svid.chainPems === undefined ? {} : { chainPems: svid.chainPems }),
      privateKey: this.keys.privateKey,
      ...(durationSeconds === undefined ? {} : { durationSeconds }),
      ...(settings.ca === undefined ? {} : { ca: settings.ca }),
      signingDate: this.now(),
    });
    const credentials = capExpiration(created, notAfter);
    this.session = { settings, credentials };
    return credentials;
  }

  /** A SigV4-signed call to a Lattice service (signing name vpc-lattice-svcs) with Roles Anywhere credentials. */
  async call(url: string, settings: RolesAnywhereSettings, call: ServiceCall = {}): Promise<HttpResponse> {
    const credentials = await this.credentials(settings);
    return signedFetch({
      url,
      region: settings.region,
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
      signingDate: this.now(),
      ...(call.method === undefined ? {} : { method: call.method }),
      ...(call.headers === undefined ? {} : { headers: call.headers }),
      ...(call.body === undefined ? {} : { body: call.body }),
      ...(call.ca === undefined ? {} : { ca: call.ca }),
      ...(call.agent === undefined ? {} : { agent: call.agent }),
    });
  }

  /** A call authenticated by the SVID as TLS client certificate (endpoints that accept SVIDs directly). */
  async callWithMtls(url: string, call: ServiceCall = {}): Promise<HttpResponse> {
    const { svid } = this;
    return mtlsFetch({
      url,
      certificatePem: svid.certificatePem,
      ...(svid.chainPems === undefined ? {} : { chainPems: svid.chainPems }),
      privateKey: this.keys.privateKey,
      ...(call.method === undefined ? {} : { method: call.method }),
      ...(call.headers === undefined ? {} : { headers: call.headers }),
      ...(call.body === undefined ? {} : { body: call.body }),
      ...(call.ca === undefined ? {} : { ca: call.ca }),
      ...(call.agent === undefined ? {} : { agent: call.agent }),
    });
  }
}
