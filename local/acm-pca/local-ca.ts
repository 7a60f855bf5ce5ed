/**
 * The local root CA: an EC P-256 key and self-signed certificate kept in `dataDir`, and the
 * signing of end-entity certificates from CSRs following the AWS Private CA templates.
 * No HTTP here: the emulator (acm-pca-emulator.ts) wraps it, and a benchmark can measure the raw
 * signing rate by calling `issue` directly.
 *
 * Files in dataDir: ca-key.json (private key as JWK, mode 0600), ca-cert.pem, ca.json (ARN and
 * creation time). ca.json is written last, so a crash while creating leaves no half-made CA behind:
 * without ca.json a new CA is created.
 */
import { randomUUID, type webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  Pkcs10CertificateRequest,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  X509CrlGenerator,
  X509CrlReason,
} from '../../shared/x509';
import { OID, parseApiPassthrough, passthroughExtensions, subjectName } from './api-passthrough';
import { pcaError } from './pca-error';
import { resolveTemplate } from './templates';
import { DEFAULT_NOT_BEFORE_BACKDATE_MS, resolveValidity, type Validity } from './validity';
import { STRICT_BASE64 } from './wire-validation';

export const CA_FILES = { key: 'ca-key.json', certificate: 'ca-cert.pem', metadata: 'ca.json' } as const;

/** The OU matters: Roles Anywhere maps x509Issuer/OU into a principal tag. */
export const CA_SUBJECT = { Organization: 'Trellis', OrganizationalUnit: 'trellis-local', CommonName: 'Trellis Local Root CA' } as const;
export const CA_KEY_ALGORITHM = 'EC_prime256v1';
export const CA_SIGNING_ALGORITHM = 'SHA256WITHECDSA';
const CA_VALIDITY_YEARS = 10;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export const SIGNING_ALGORITHMS = [
  'SHA256WITHECDSA',
  'SHA384WITHECDSA',
  'SHA512WITHECDSA',
  'SHA256WITHRSA',
  'SHA384WITHRSA',
  'SHA512WITHRSA',
  'SM3WITHSM2',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

const ECDSA_HASH: Partial<Record<SigningAlgorithm, string>> = {
  SHA256WITHECDSA: 'SHA-256',
  SHA384WITHECDSA: 'SHA-384',
  SHA512WITHECDSA: 'SHA-512',
};

export interface LocalCaOptions {
  /** Used only when the CA is created; default us-east-1. */
  region?: string;
  /** Used only when the CA is created; default 111122223333. */
  accountId?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

export interface IssueRequest {
  /** The CSR as PEM text (what the SDK base64-encodes into `Csr`). */
  csrPem: string;
  /** Template ARN or bare `<Name>/V1`; default EndEntityCertificate/V1. */
  template?: string;
  /** Default SHA256WITHECDSA. */
  signingAlgorithm?: SigningAlgorithm;
  validity: Validity;
  validityNotBefore?: Validity;
  /** The wire ApiPassthrough object; validated here, applied only if the template honours it. */
  apiPassthrough?: unknown;
  /** Issuance time; default now. */
  issuedAt?: Date;
}

export interface IssuedCertificate {
  certificatePem: string;
  /** 32 lowercase hex digits, no colons: the serial in the certificate and in its ARN. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** `<Name>/V1` of the template applied. */
  template: string;
}

interface CaMetadata {
  caArn: string;
  region: string;
  accountId: string;
  createdAt: string;
}

const CSR_BLOCK = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/;

const malformed = (why: string) => pcaError('MalformedCSRException', `The certificate signing request is malformed: ${why}.`);

/**
 * Parses a PEM CSR and checks its self-signature; anything wrong → MalformedCSRException.
 * A CSR with neither a subject nor a SAN is refused too (MalformedCSRException: UNCONFIRMED name).
 */
export async function parseCsr(pemText: string): Promise<{ csr: Pkcs10CertificateRequest; extensions: Extension[] }> {
  const match = CSR_BLOCK.exec(pemText);
  const body = match?.[1]?.replace(/\s+/g, '') ?? '';
  if (match === null || body === '' || !STRICT_BASE64.test(body)) throw malformed('expected a PEM "CERTIFICATE REQUEST" block');
  let csr: Pkcs10CertificateRequest;
  let extensions: Extension[];
  try {
    csr = new Pkcs10CertificateRequest(Buffer.from(body, 'base64'));
    extensions = csr.extensions;
  } catch {
    throw malformed('it is not a DER PKCS#10 request');
  }
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw malformed('its signature does not verify with its public key');
  const san = extensions.find((e) => e.type === OID.subjectAltName);
  if (csr.subjectName.toJSON().length === 0 && (san === undefined || san.value.byteLength <= 2)) {
    throw malformed('it has neither a subject name nor a subject alternative name');
  }
  return { csr, extensions };
}

async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const caName = (): Name =>
  new Name([{ O: [CA_SUBJECT.Organization] }, { OU: [CA_SUBJECT.OrganizationalUnit] }, { CN: [CA_SUBJECT.CommonName] }]);

/** 16 random bytes, top bit clear and first byte non-zero: a positive 128-bit serial that DER keeps at 16 bytes. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) || 0x01;
  return Buffer.from(bytes).toString('hex');
}

export class LocalCa {
  readonly caArn: string;
  readonly certificate: X509Certificate;
  readonly certificatePem: string;
  readonly createdAt: Date;
  readonly region: string;
  readonly accountId: string;
  /** SKI of the CA certificate (hex): the AKI of every issued certificate. */
  readonly keyId: string;
  private readonly privateKey: webcrypto.CryptoKey;
  private readonly now: () => Date;
  private readonly usedSerials = new Set<string>();

  private constructor(init: { metadata: CaMetadata; certificate: X509Certificate; privateKey: webcrypto.CryptoKey; now: () => Date }) {
    this.caArn = init.metadata.caArn;
    this.region = init.metadata.region;
    this.accountId = init.metadata.accountId;
    this.createdAt = new Date(init.metadata.createdAt);
    this.certificate = init.certificate;
    this.certificatePem = init.certificate.toString('pem');
    this.privateKey = init.privateKey;
    this.now = init.now;
    const ski = init.certificate.getExtension(SubjectKeyIdentifierExtension);
    if (ski === null) throw new Error('Local CA certificate has no subject key identifier');
    this.keyId = ski.keyId;
    this.usedSerials.add(init.certificate.serialNumber.toLowerCase());
  }

  get notBefore(): Date {
    return this.certificate.notBefore;
  }

  get notAfter(): Date {
    return this.certificate.notAfter;
  }

  /** Loads the CA kept in `dataDir`, or creates one there on first use. */
  static async load(dataDir: string, options: LocalCaOptions = {}): Promise<LocalCa> {
    const now = options.now ?? (() => new Date());
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '111122223333';
    await mkdir(dataDir, { recursive: true });
    const metadataText = await readIfExists(join(dataDir, CA_FILES.metadata));
    if (metadataText === undefined) return LocalCa.create(dataDir, { region, accountId, now });

    const metadata = JSON.parse(metadataText) as CaMetadata;
    // Loud rather than silently answering with an ARN from another region/account.
    if ((options.region !== undefined && options.region !== metadata.region) || (options.accountId !== undefined && options.accountId !== metadata.accountId)) {
      throw new Error(
        `Local CA in ${dataDir} belongs to region ${metadata.region} / account ${metadata.accountId}, not ${region} / ${accountId}; use another dataDir or the same settings`,
      );
    }
    const [keyText, certText] = await Promise.all([readFile(join(dataDir, CA_FILES.key), 'utf8'), readFile(join(dataDir, CA_FILES.certificate), 'utf8')]);
    const jwk = JSON.parse(keyText) as webcrypto.JsonWebKey;
    const privateKey = await crypto.subtle.importKey('jwk', jwk, EC_KEY, false, ['sign']);
    const certificate = new X509Certificate(certText);
    const certJwk = await crypto.subtle.exportKey('jwk', await certificate.publicKey.export());
    if (certJwk.x !== jwk.x || certJwk.y !== jwk.y) throw new Error(`Local CA in ${dataDir}: ${CA_FILES.key} does not match ${CA_FILES.certificate}`);
    return new LocalCa({ metadata, certificate, privateKey, now });
  }

  private static async create(dataDir: string, settings: { region: string; accountId: string; now: () => Date }): Promise<LocalCa> {
    const createdAt = settings.now();
    const keys = await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
    const notAfter = new Date(createdAt.getTime());
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
    const certificate = await X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: caName(),
      // Back-dated like every AWS-issued certificate, so leaves issued right away (also back-dated) nest inside.
      notBefore: new Date(createdAt.getTime() - DEFAULT_NOT_BEFORE_BACKDATE_MS),
      notAfter,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new BasicConstraintsExtension(true, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
        await SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const metadata: CaMetadata = {
      caArn: `arn:aws:acm-pca:${settings.region}:${settings.accountId}:certificate-authority/${randomUUID()}`,
      region: settings.region,
      accountId: settings.accountId,
      createdAt: createdAt.toISOString(),
    };
    const jwk = await crypto.subtle.exportKey('jwk', keys.privateKey);
    await writeFileAtomic(join(dataDir, CA_FILES.key), `${JSON.stringify(jwk)}\n`, 0o600);
    await writeFileAtomic(join(dataDir, CA_FILES.certificate), certificate.toString('pem'), 0o644);
    await writeFileAtomic(join(dataDir, CA_FILES.metadata), `${JSON.stringify(metadata, null, 2)}\n`, 0o644);
    return new LocalCa({ metadata, certificate, privateKey: keys.privateKey, now: settings.now });
  }

  /** Serials already used (e.g. loaded from the emulator's certificate log), so they are never issued again. */
  markSerialsUsed(serials: Iterable<string>): void {
    for (const s of serials) this.usedSerials.add(s.toLowerCase());
  }

  private newSerial(): string {
    for (;;) {
      const serial = randomSerial();
      if (!this.usedSerials.has(serial)) {
        this.usedSerials.add(serial);
        return serial;
      }
    }
  }

  /** The WebCrypto hash for a signing algorithm; RSA/SM2/ML-DSA do not fit this EC key → InvalidArgsException. */
  private signingHash(algorithm: SigningAlgorithm): string {
    const hash = ECDSA_HASH[algorithm];
    if (hash === undefined) {
      throw pcaError('InvalidArgsException', `The signing algorithm ${algorithm} is not compatible with the CA key algorithm ${CA_KEY_ALGORITHM}.`);
    }
    return hash;
  }

  async issue(request: IssueRequest): Promise<IssuedCertificate> {
    const template = resolveTemplate(request.template);
    const hash = this.signingHash(request.signingAlgorithm ?? CA_SIGNING_ALGORITHM);
    // Model-validated whether or not the template then uses it.
    const api = request.apiPassthrough === undefined ? undefined : parseApiPassthrough(request.apiPassthrough);
    const { csr, extensions: csrExtensions } = await parseCsr(request.csrPem);
    const { notBefore, notAfter } = resolveValidity({
      validity: request.validity,
      validityNotBefore: request.validityNotBefore,
      issuedAt: request.issuedAt ?? this.now(),
      caNotBefore: this.notBefore,
      caNotAfter: this.notAfter,
    });
    const honouredApi = template.honoursApiPassthrough ? api : undefined;
    const subject = honouredApi?.Subject !== undefined ? subjectName(honouredApi.Subject) : csr.subjectName;

    // Priority per extension: template > API passthrough > CSR (AWS "order of operations").
    const chosen = new Map<string, Extension>();
    const set = (ext: Extension): void => {
      if (!chosen.has(ext.type)) chosen.set(ext.type, ext);
    };
    set(new BasicConstraintsExtension(false, undefined, false));
    set(new AuthorityKeyIdentifierExtension(this.keyId, false));
    set(await SubjectKeyIdentifierExtension.create(csr.publicKey, false));
    if (template.keyUsage !== undefined) set(new KeyUsagesExtension(template.keyUsage, true));
    if (template.extendedKeyUsage !== undefined) set(new ExtendedKeyUsageExtension([...template.extendedKeyUsage.usages], template.extendedKeyUsage.critical));
    if (honouredApi?.Extensions !== undefined) {
      for (const ext of passthroughExtensions(honouredApi.Extensions).values()) set(ext);
    }
    // Every template passes the CSR's SAN through (unless the API replaced it); other CSR
    // extensions only with *_CSRPassthrough / *_APICSRPassthrough.
    for (const ext of csrExtensions) {
      if (ext.type === OID.subjectAltName || template.honoursCsrPassthrough) set(new Extension(ext.rawData));
    }
    // RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
    const san = chosen.get(OID.subjectAltName);
    if (subject.toJSON().length === 0 && san !== undefined && !san.critical) chosen.set(OID.subjectAltName, new Extension(OID.subjectAltName, true, san.value));

    const serialHex = this.newSerial();
    const certificate = await X509CertificateGenerator.create({
      serialNumber: serialHex,
      subject,
      issuer: this.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: this.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash },
      extensions: [...chosen.values()],
    });
    return { certificatePem: certificate.toString('pem'), serialHex, notBefore, notAfter, template: template.name };
  }

  /**
   * A complete X.509 v2 CRL of the given revocations, signed with the CA's key (as ACM Private CA
   * publishes to its S3 bucket): issuer = the CA's subject, thisUpdate now, nextUpdate after
   * `validDays`, extensions authorityKeyIdentifier and cRLNumber, one entry (serial, date, reason
   * code) per revoked certificate. DER bytes.
   */
  async crl(revocations: readonly { serialHex: string; reason: RevocationReasonName; revokedAt: Date }[], crlNumber: number, validDays = 7): Promise<Uint8Array> {
    const thisUpdate = this.now();
    const crl = await X509CrlGenerator.create({
      issuer: this.certificate.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + validDays * 86_400_000),
      signingKey: this.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new AuthorityKeyIdentifierExtension(this.keyId, false), new Extension('2.5.29.20', false, derInteger(crlNumber))],
      entries: revocations.map((r) => ({ serialNumber: r.serialHex, revocationDate: r.revokedAt, reason: CRL_REASON[r.reason] })),
    });
    return new Uint8Array(crl.rawData);
  }
}

type RevocationReasonName = 'UNSPECIFIED' | 'KEY_COMPROMISE' | 'CERTIFICATE_AUTHORITY_COMPROMISE' | 'AFFILIATION_CHANGED' | 'SUPERSEDED' | 'CESSATION_OF_OPERATION' | 'PRIVILEGE_WITHDRAWN' | 'A_A_COMPROMISE';

/** ACM Private CA's RevocationReason → the RFC 5280 CRLReason code in the CRL entry. */
const CRL_REASON: Record<RevocationReasonName, X509CrlReason> = {
  UNSPECIFIED: X509CrlReason.unspecified,
  KEY_COMPROMISE: X509CrlReason.keyCompromise,
  CERTIFICATE_AUTHORITY_COMPROMISE: X509CrlReason.cACompromise,
  AFFILIATION_CHANGED: X509CrlReason.affiliationChanged,
  SUPERSEDED: X509CrlReason.superseded,
  CESSATION_OF_OPERATION: X509CrlReason.cessationOfOperation,
  PRIVILEGE_WITHDRAWN: X509CrlReason.privilegeWithdrawn,
  A_A_COMPROMISE: X509CrlReason.aACompromise,
};

/** DER INTEGER of a non-negative number (the cRLNumber extension's value). */
function derInteger(value: number): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}
