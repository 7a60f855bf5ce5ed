/**
 * A tiny CA for tests: real keys (WebCrypto) and real certificates and CSRs (@peculiar/x509).
 * Keys are cached per kind, since RSA generation is the slow part.
 */
import {
  type Attribute,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  type Extension,
  type JsonGeneralName,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '../../shared/x509';
import type { webcrypto } from 'node:crypto';

type Algorithm = webcrypto.Algorithm;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type EcdsaParams = webcrypto.EcdsaParams;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type KeyKind = 'P-256' | 'P-384' | 'P-521' | 'RSA-1024' | 'RSA-2048' | 'Ed25519';

const keyGenParams: Record<KeyKind, { gen: Algorithm | EcKeyGenParams | RsaHashedKeyGenParams; sign: Algorithm | EcdsaParams }> = {
  'P-256': { gen: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  'P-384': { gen: { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
  'P-521': { gen: { name: 'ECDSA', namedCurve: 'P-521' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-512' } as EcdsaParams },
  'RSA-1024': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as RsaHashedKeyGenParams,
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  'RSA-2048': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as RsaHashedKeyGenParams,
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  Ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

const keyCache = new Map<string, Promise<CryptoKeyPair>>();

/** A key pair of the given kind; `slot` picks a distinct cached pair of the same kind. */
export function keyPair(kind: KeyKind, slot = 0): Promise<CryptoKeyPair> {
  const cacheKey = `${kind}#${slot}`;
  let keys = keyCache.get(cacheKey);
  if (keys === undefined) {
    keys = crypto.subtle.generateKey(keyGenParams[kind].gen, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
    keyCache.set(cacheKey, keys);
  }
  return keys;
}

export function signingAlgorithm(kind: KeyKind): Algorithm | EcdsaParams {
  return keyGenParams[kind].sign;
}

export interface TestCa {
  cert: X509Certificate;
  pem: string;
  keys: CryptoKeyPair;
  kind: KeyKind;
}

export async function createTestCa(opts: { name?: string; kind?: KeyKind; slot?: number } = {}): Promise<TestCa> {
  const kind = opts.kind ?? 'P-256';
  const keys = await keyPair(kind, opts.slot ?? 100);
  const cert = await X509CertificateGenerator.createSelfSigned({
    name: opts.name ?? 'CN=Trellis Test CA, OU=Platform Security, O=Example Org, C=US',
    keys,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: signingAlgorithm(kind),
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, pem: cert.toString('pem'), keys, kind };
}

export interface LeafOptions {
  subject?: string;
  sans?: JsonGeneralName[];
  sanCritical?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** undefined → CA:FALSE; null → no basicConstraints extension. */
  basicConstraintsCa?: boolean | null;
  /** undefined → critical digitalSignature|keyEncipherment; null → no keyUsage extension. */
  keyUsage?: KeyUsageFlags | null;
  keyUsageCritical?: boolean;
  /** undefined → serverAuth + clientAuth; null → no extendedKeyUsage extension. */
  extendedKeyUsage?: string[] | null;
  serialNumber?: string;
  issuerName?: string;
  leafKind?: KeyKind;
  extraExtensions?: Extension[];
}

export async function issueLeaf(ca: TestCa, opts: LeafOptions = {}): Promise<X509Certificate> {
  const leafKeys = await keyPair(opts.leafKind ?? 'P-256', 1);
  const extensions: Extension[] = [];
  if (opts.basicConstraintsCa !== null) extensions.push(new BasicConstraintsExtension(opts.basicConstraintsCa ?? false, undefined, true));
  if (opts.keyUsage !== null) {
    extensions.push(new KeyUsagesExtension(opts.keyUsage ?? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, opts.keyUsageCritical ?? true));
  }
  if (opts.extendedKeyUsage !== null) {
    extensions.push(new ExtendedKeyUsageExtension(opts.extendedKeyUsage ?? [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth]));
  }
  if (opts.sans !== undefined) extensions.push(new SubjectAlternativeNameExtension(opts.sans, opts.sanCritical ?? false));
  extensions.push(...(opts.extraExtensions ?? []));
  return X509CertificateGenerator.create({
    subject: opts.subject ?? 'CN=orders',
    issuer: opts.issuerName ?? ca.cert.subject,
    publicKey: leafKeys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signingAlgorithm(ca.kind),
    notBefore: opts.notBefore ?? new Date('2030-01-01T00:00:00Z'),
    notAfter: opts.notAfter ?? new Date('2030-01-01T01:00:00Z'),
    serialNumber: opts.serialNumber,
    extensions,
  });
}

export interface CsrOptions {
  kind?: KeyKind;
  subject?: string;
  sans?: JsonGeneralName[];
  extensions?: Extension[];
  attributes?: Attribute[];
}

export async function createCsrPem(opts: CsrOptions = {}): Promise<string> {
  const kind = opts.kind ?? 'P-256';
  const extensions: Extension[] = [...(opts.extensions ?? [])];
  if (opts.sans !== undefined) extensions.push(new SubjectAlternativeNameExtension(opts.sans));
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: opts.subject ?? 'CN=orders',
    keys: await keyPair(kind, 2),
    signingAlgorithm: signingAlgorithm(kind),
    extensions,
    attributes: opts.attributes,
  });
  return csr.toString('pem');
}

/** DER bytes of the (single) PEM block. */
export function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
