/**
 * The SVID directory, read and checked before anything is signed with it: the certificate is valid
 * now, the key belongs to it, it chains to bundle.pem and it names a SPIFFE ID. Each failure is a
 * WorkloadEdgeError that says what to check, because the alternative is a bare AccessDenied from
 * Roles Anywhere or Lattice that names none of these causes.
 *
 * Certificates are parsed and chains built with @peculiar/x509; the key/certificate match is
 * node:crypto's (X509Certificate.checkPrivateKey over KeyObjects), so no ASN.1 is handled here.
 */
import { X509Certificate as NodeX509Certificate, createPrivateKey, type KeyObject, type webcrypto } from 'node:crypto';
import { WorkloadEdgeError } from './edge-error';
import { BUNDLE_FILE, SVID_FILE, SVID_KEY_FILE, readSvidFiles } from './svid-files';
import { PemConverter, SubjectAlternativeNameExtension, X509Certificate, X509ChainBuilder } from './x509';

type CryptoKey = webcrypto.CryptoKey;

export interface SvidMaterial {
  /** The leaf certificate, PEM. */
  certificatePem: string;
  /** The intermediates that followed the leaf in svid.pem, one PEM each (empty when the root issued it). */
  chainPems: string[];
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
  /** The private key as a WebCrypto signing key (non-extractable), as createSession takes it. */
  privateKey: CryptoKey;
  /** The trust bundle (empty when the source has none: then the chain is not checked here). */
  bundlePem: string;
  /** The serial in lower-case hex: the role session name Roles Anywhere gives the session. */
  serialHex: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
}

export interface SvidCheckOptions {
  now?: () => Date;
  /** Where the material came from, for messages (the SVID directory, or "the SVID source"). */
  origin?: string;
}

const WATCH_FIX = 'run `trellis svid fetch --watch` (or restart it if it is running: it renews the SVID before it expires) and check its log for renewal errors';

/** SvidExpired when `now` is past notAfter (also for material checked earlier and kept, as fromSvid does). */
export function assertNotExpired(notAfter: Date, now: Date, origin = 'the SVID source'): void {
  if (now.getTime() > notAfter.getTime()) {
    throw new WorkloadEdgeError('SvidExpired', `the SVID in ${origin} expired at ${notAfter.toISOString()} (it is now ${now.toISOString()})`, WATCH_FIX);
  }
}

function parsePems(pem: string, what: string, origin: string): X509Certificate[] {
  let ders: ArrayBuffer[];
  try {
    ders = PemConverter.decode(pem);
  } catch (error) {
    throw new WorkloadEdgeError('SvidInvalid', `${what} in ${origin} is not PEM`, 'fetch the SVID again with `trellis svid fetch`', { cause: error });
  }
  try {
    return ders.map((der) => new X509Certificate(der));
  } catch (error) {
    throw new WorkloadEdgeError('SvidInvalid', `${what} in ${origin} holds a block that is not an X.509 certificate`, 'fetch the SVID again with `trellis svid fetch`', { cause: error });
  }
}

function privateKeyObject(keyPem: string, origin: string): KeyObject {
  try {
    return createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (error) {
    throw new WorkloadEdgeError('SvidKeyInvalid', `the private key in ${origin} cannot be read (${(error as Error).message})`, `${SVID_KEY_FILE} must be an unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"); fetch the SVID again with \`trellis svid fetch\``, { cause: error });
  }
}

/** The WebCrypto import parameters for the key kinds Roles Anywhere signs with (ECDSA P-256/P-384, RSA PKCS#1 v1.5 SHA-256). */
function importParams(key: KeyObject, origin: string): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (namedCurve !== undefined) return { name: 'ECDSA', namedCurve };
    throw new WorkloadEdgeError('SvidKeyUnsupported', `the private key in ${origin} is on curve ${curve ?? 'unknown'}`, 'use a P-256 or P-384 key (trellis svid fetch makes P-256 keys)');
  }
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new WorkloadEdgeError('SvidKeyUnsupported', `the private key in ${origin} is ${key.asymmetricKeyType ?? 'of an unknown type'}`, 'use an ECDSA (P-256, P-384) or RSA key');
}

function spiffeIdOf(leaf: X509Certificate): string | undefined {
  const san = leaf.getExtension(SubjectAlternativeNameExtension);
  return san?.names.items.find((n) => n.type === 'url' && n.value.toLowerCase().startsWith('spiffe://'))?.value;
}

const sameCertificate = (a: X509Certificate, b: X509Certificate): boolean => Buffer.from(a.rawData).equals(Buffer.from(b.rawData));

async function checkChain(leaf: X509Certificate, intermediates: X509Certificate[], bundle: X509Certificate[], origin: string): Promise<void> {
  const fix = `check that ${BUNDLE_FILE} is the trust bundle of the CA that issued the SVID (trellis svid fetch writes both), and that the issuing CA was not replaced since; fetch the SVID again if it was`;
  const subjects = bundle.map((c) => c.subject).join('; ') || '(none)';
  if (bundle.length === 0) throw new WorkloadEdgeError('SvidUntrusted', `${BUNDLE_FILE} in ${origin} holds no certificate`, fix);
  let path: X509Certificate[] = [];
  try {
    path = [...(await new X509ChainBuilder({ certificates: [...intermediates, ...bundle] }).build(leaf))];
  } catch {
    // The builder throws when it finds no issuer; reported below with the names to compare.
  }
  if (path.some((cert, i) => i > 0 && bundle.some((b) => sameCertificate(b, cert)))) return;
  throw new WorkloadEdgeError(
    'SvidUntrusted',
    `the SVID in ${origin} (issuer "${leaf.issuer}") does not chain to ${BUNDLE_FILE}, whose certificates are: ${subjects}`,
    fix,
  );
}

/**
 * Checks SVID material from any source. `bundlePem` may be empty (a source without a bundle): the
 * chain is then left to Roles Anywhere, which checks it against the trust anchor anyway.
 */
export async function checkSvidMaterial(files: { certificatePem: string; keyPem: string; bundlePem?: string }, options: SvidCheckOptions = {}): Promise<SvidMaterial> {
  const origin = options.origin ?? 'the SVID source';
  const now = (options.now ?? (() => new Date()))();
  const certificates = parsePems(files.certificatePem, SVID_FILE, origin);
  const [leaf, ...intermediates] = certificates;
  if (leaf === undefined) throw new WorkloadEdgeError('SvidInvalid', `${SVID_FILE} in ${origin} holds no certificate`, 'fetch the SVID again with `trellis svid fetch`');

  const key = privateKeyObject(files.keyPem, origin);
  // node:crypto compares the key with the certificate's public key (what TLS does when loading a pair).
  if (!new NodeX509Certificate(Buffer.from(leaf.rawData)).checkPrivateKey(key)) {
    throw new WorkloadEdgeError(
      'SvidKeyMismatch',
      `the private key in ${origin} does not belong to the certificate (serial ${leaf.serialNumber.toLowerCase()})`,
      `${SVID_KEY_FILE} and ${SVID_FILE} must come from the same \`trellis svid fetch\`; check that nothing else writes to the directory, then fetch the SVID again`,
    );
  }

  assertNotExpired(leaf.notAfter, now, origin);
  if (now.getTime() < leaf.notBefore.getTime()) {
    throw new WorkloadEdgeError(
      'SvidNotYetValid',
      `the SVID in ${origin} is valid only from ${leaf.notBefore.toISOString()} (it is now ${now.toISOString()} here)`,
      "this machine's clock is probably behind the CA's: check clock synchronisation (chrony/NTP, `timedatectl`); Roles Anywhere refuses the certificate too until then",
    );
  }

  const spiffeId = spiffeIdOf(leaf);
  if (spiffeId === undefined) {
    throw new WorkloadEdgeError('SvidNoSpiffeId', `the certificate in ${origin} has no spiffe:// URI SAN: it is not an X.509-SVID`, `${SVID_FILE} must hold the SVID Trellis issued; fetch it with \`trellis svid fetch\``);
  }

  const bundlePem = files.bundlePem ?? '';
  if (files.bundlePem !== undefined) await checkChain(leaf, intermediates, parsePems(bundlePem, BUNDLE_FILE, origin), origin);

  const privateKey = (await crypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), importParams(key, origin), false, ['sign'])) as CryptoKey;
  return {
    certificatePem: leaf.toString('pem'),
    chainPems: intermediates.map((c) => c.toString('pem')),
    keyPem: files.keyPem,
    privateKey,
    bundlePem,
    serialHex: leaf.serialNumber.toLowerCase(),
    spiffeId,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}

export interface LoadSvidOptions {
  now?: () => Date;
  /** Runs before the one re-read after a key/certificate mismatch; default: wait 50 ms for the rotation's second rename. */
  beforeReread?: () => Promise<void>;
}

/**
 * Reads and checks the SVID directory. A key that does not match is read once more before failing:
 * writeSvidFiles renames the key and then the certificate, and a reader between the two renames
 * sees the new key with the old certificate.
 */
export async function loadSvidMaterial(dir: string, options: LoadSvidOptions = {}): Promise<SvidMaterial> {
  const check = async (): Promise<SvidMaterial> => checkSvidMaterial(await readSvidFiles(dir), { ...(options.now === undefined ? {} : { now: options.now }), origin: dir });
  try {
    return await check();
  } catch (error) {
    if (!(error instanceof WorkloadEdgeError && error.code === 'SvidKeyMismatch')) throw error;
    await (options.beforeReread ?? (() => new Promise<void>((resolve) => setTimeout(resolve, 50))))();
    return check();
  }
}

