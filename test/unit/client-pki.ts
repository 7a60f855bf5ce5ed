/**
 * Real keys and certificates for the workload-client tests: a CA and X.509-SVIDs made with
 * @peculiar/x509 (through the client's own x509 module), written as `trellis svid fetch` writes them.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
  type JsonGeneralName,
  type X509Certificate,
} from '../../client/src/x509';
import { exportPrivateKeyPem, generateKeyPair, signingParamsFor, writeSvidFiles } from '@trellis/client';

export const ORDERS = 'spiffe://example.org/service/orders';
const HOUR = 3_600_000;

export interface Pki {
  keys: webcrypto.CryptoKeyPair;
  cert: X509Certificate;
  keyPem: string;
}

/** A positive 16-byte serial in hex (high bit clear), unique per certificate. */
export const randomSerial = (): string => `7${randomBytes(16).toString('hex').slice(1)}`;

export async function makeCa(name = 'CN=Trellis Test Root CA, OU=trellis-test, O=Trellis'): Promise<Pki> {
  const keys = await generateKeyPair('P-256');
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    keys,
    signingAlgorithm: signingParamsFor(keys.privateKey),
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 48 * HOUR),
    extensions: [new BasicConstraintsExtension(true, undefined, true), new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true)],
  });
  return { keys, cert, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

export interface SvidOptions {
  sans?: JsonGeneralName[];
  notBefore?: Date;
  notAfter?: Date;
}

export async function makeSvid(issuer: Pki, options: SvidOptions = {}): Promise<Pki> {
  const keys = await generateKeyPair('P-256');
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: '',
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signingParamsFor(issuer.keys.privateKey),
    notBefore: options.notBefore ?? new Date(Date.now() - 5 * 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + HOUR),
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true),
      new SubjectAlternativeNameExtension(options.sans ?? [{ type: 'url', value: ORDERS }], true),
    ],
  });
  return { keys, cert, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** Writes the SVID directory: leaf, its key and the bundle (by default the issuer's certificate). */
export async function writeSvidDir(dir: string, leaf: Pki, bundle: Pki, keyPem = leaf.keyPem): Promise<void> {
  await writeSvidFiles(dir, { certificatePem: leaf.cert.toString('pem'), keyPem, bundlePem: bundle.cert.toString('pem') });
}
