/**
 * The server certificate of the local Lattice data plane.
 *
 * Decision: a TLS CA of its own ("Trellis Local Lattice TLS CA"), not the local ACM PCA's CA. On AWS a
 * Lattice service answers with an ACM (public or custom-domain) certificate, which has nothing to do with
 * the private CA that issues workload SVIDs; keeping the two apart locally means the SVID trust bundle
 * never vouches for a server and a client can tell "trust the data plane" (`--cacert`) from "the
 * workloads' trust domain". A fresh CA and server certificate are made on every start (a few ms of P-256
 * work); the CA PEM is written to `<stateDir>/lattice-data-plane-ca.pem` for `curl --cacert`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  AuthorityKeyIdentifierExtension,
  X509CertificateGenerator,
  type JsonGeneralName,
} from '../../shared/x509';

export const DATA_PLANE_CA_FILE = 'lattice-data-plane-ca.pem';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ServerTlsMaterial {
  caPem: string;
  /** Path of the written CA PEM. */
  caFile: string;
  certPem: string;
  keyPem: string;
}

/** A positive 16-byte serial (high bit clear, so no DER sign byte is needed). */
const serial = (): string => {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
};

/**
 * Makes the CA and a server certificate for `127.0.0.1`, `localhost` and the given extra DNS names (the
 * services' Lattice DNS names, so `curl --resolve <name>:<port>:127.0.0.1 https://<name>:<port>/` works).
 */
export async function createServerTls(stateDir: string, dnsNames: readonly string[], now: Date = new Date()): Promise<ServerTlsMaterial> {
  const caKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notBefore = new Date(now.getTime() - DAY_MS);
  const caCert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Trellis Local Lattice TLS CA, O=Trellis',
    notBefore,
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: SIGN,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const names: JsonGeneralName[] = [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'dns', value: 'localhost' },
    ...[...new Set(dnsNames)].map((value): JsonGeneralName => ({ type: 'dns', value })),
  ];
  const serverCert = await X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=localhost',
    issuer: caCert.subject,
    notBefore,
    notAfter: new Date(now.getTime() + 90 * DAY_MS),
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGN,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
      new SubjectAlternativeNameExtension(names),
      await AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const keyPem = PemConverter.encode(await crypto.subtle.exportKey('pkcs8', serverKeys.privateKey), 'PRIVATE KEY');
  const caPem = caCert.toString('pem');
  mkdirSync(stateDir, { recursive: true });
  const caFile = join(stateDir, DATA_PLANE_CA_FILE);
  writeFileSync(caFile, `${caPem}\n`);
  return { caPem, caFile, certPem: serverCert.toString('pem'), keyPem };
}
