/**
 * Workload key pairs and CSRs. The private key is created here, on the workload, and never
 * leaves it: only the CSR (public key + requested names) goes to Trellis.
 *
 * WebCrypto (globalThis.crypto) does the key work and @peculiar/x509 encodes the PKCS#10 request.
 */
import type { webcrypto } from 'node:crypto';
import { Pkcs10CertificateRequestGenerator, PemConverter, SubjectAlternativeNameExtension } from './x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type KeyAlgorithm = 'P-256' | 'P-384' | 'RSA-2048';

/** The WebCrypto parameters for each supported key algorithm (signing always hashes with SHA-256). */
export function keyAlgorithmParams(algorithm: KeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (algorithm) {
    case 'P-256':
    case 'P-384':
      return { name: 'ECDSA', namedCurve: algorithm };
    case 'RSA-2048':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  }
}

/** The signature algorithm a key of this kind signs CSRs and requests with. */
export function signingParamsFor(key: CryptoKey): webcrypto.EcdsaParams | webcrypto.Algorithm {
  if (key.algorithm.name === 'ECDSA') return { name: 'ECDSA', hash: 'SHA-256' };
  if (key.algorithm.name === 'RSASSA-PKCS1-v1_5') return { name: 'RSASSA-PKCS1-v1_5' };
  throw new Error(`unsupported key algorithm ${key.algorithm.name}: use ECDSA (P-256, P-384) or RSASSA-PKCS1-v1_5`);
}

/**
 * A new key pair. `extractable` (default true) lets a CLI write the private key to disk with
 * exportPrivateKeyPem; a long-running workload that keeps the key in memory can pass false.
 */
export async function generateKeyPair(algorithm: KeyAlgorithm, options: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(keyAlgorithmParams(algorithm), options.extractable ?? true, ['sign', 'verify']);
}

export interface CreateCsrInput {
  keys: CryptoKeyPair;
  /** Requested URI SAN. Trellis ignores SANs in the CSR and forces the registered SPIFFE ID; sent for readability. */
  spiffeId?: string;
  /** Optional subject CN (X509-SVIDs usually have an empty subject). */
  commonName?: string;
}

/** A PEM "CERTIFICATE REQUEST" signed with the key pair's private key. */
export async function createCsr(input: CreateCsrInput): Promise<string> {
  const extensions = input.spiffeId === undefined ? [] : [new SubjectAlternativeNameExtension([{ type: 'url', value: input.spiffeId }])];
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: input.commonName === undefined ? [] : [{ CN: [input.commonName] }],
    keys: input.keys,
    signingAlgorithm: signingParamsFor(input.keys.privateKey),
    extensions,
  });
  return csr.toString('pem');
}

/** PKCS#8 PEM ("PRIVATE KEY") of an extractable private key. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return PemConverter.encode(der, 'PRIVATE KEY');
}

/** Imports a PKCS#8 PEM private key for signing (non-extractable). */
export async function importPrivateKeyPem(pem: string, algorithm: KeyAlgorithm): Promise<CryptoKey> {
  const [der] = PemConverter.decode(pem);
  if (der === undefined) throw new Error('no PEM block found in the private key');
  const params = keyAlgorithmParams(algorithm);
  const importParams: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams =
    params.name === 'ECDSA' ? { name: 'ECDSA', namedCurve: (params as webcrypto.EcKeyGenParams).namedCurve } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return crypto.subtle.importKey('pkcs8', der, importParams, false, ['sign']);
}
