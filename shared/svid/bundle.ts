/**
 * SPIFFE trust bundle: an RFC 7517 JWK set with one `x509-svid` entry per CA certificate
 * (SPIFFE_Trust_Domain_and_Bundle.md section 4, X509-SVID.md section 6.1).
 */
import { BasicConstraintsExtension, type X509Certificate } from '../x509';
import { TrellisError } from '../errors';
import { parseCertificateChain } from './x509-svid';

export interface SpiffeBundleJwk {
  kty: 'EC' | 'RSA';
  use: 'x509-svid';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  /** Exactly one element: the base64 (not base64url) DER of the CA certificate. */
  x5c: [string];
}

export interface SpiffeBundle {
  keys: SpiffeBundleJwk[];
  spiffe_refresh_hint?: number;
  spiffe_sequence?: number;
}

export interface SpiffeBundleOptions {
  /** Suggested consumer refresh interval, whole seconds. */
  refreshHintSeconds?: number;
  /** Monotonically increasing; change it whenever the bundle content changes. */
  sequence?: number;
}

/**
 * Builds the bundle from CA certificates. Each string may hold one or several PEM certificates;
 * every certificate becomes one JWK, duplicates (same DER) appear once. The public key is
 * exported with WebCrypto and only the key members are kept: the spec forbids `kid` and advises
 * against members it does not define (so no `alg`, `key_ops`, `ext`).
 */
export async function toSpiffeBundle(caPems: string[], opts: SpiffeBundleOptions = {}): Promise<SpiffeBundle> {
  const seen = new Set<string>();
  const keys: SpiffeBundleJwk[] = [];
  for (const pem of caPems) {
    for (const cert of parseCertificateChain(pem)) {
      const der = Buffer.from(cert.rawData).toString('base64');
      if (seen.has(der)) continue;
      seen.add(der);
      keys.push(await toJwk(cert, der));
    }
  }
  const bundle: SpiffeBundle = { keys };
  if (opts.refreshHintSeconds !== undefined) bundle.spiffe_refresh_hint = wholeNumber('refreshHintSeconds', opts.refreshHintSeconds);
  if (opts.sequence !== undefined) bundle.spiffe_sequence = wholeNumber('sequence', opts.sequence);
  return bundle;
}

async function toJwk(cert: X509Certificate, derBase64: string): Promise<SpiffeBundleJwk> {
  const bc = cert.getExtension(BasicConstraintsExtension);
  if (bc === null || !bc.ca) {
    throw new TrellisError('InvalidTrustBundle', 500, `"${cert.subject}" is not a CA certificate (basicConstraints CA:TRUE), so it cannot be a trust bundle entry`);
  }
  const jwk = await crypto.subtle.exportKey('jwk', await cert.publicKey.export());
  if (jwk.kty === 'EC') {
    return { kty: 'EC', use: 'x509-svid', crv: jwk.crv, x: jwk.x, y: jwk.y, x5c: [derBase64] };
  }
  if (jwk.kty === 'RSA') {
    return { kty: 'RSA', use: 'x509-svid', n: jwk.n, e: jwk.e, x5c: [derBase64] };
  }
  throw new TrellisError('InvalidTrustBundle', 500, `the key of CA "${cert.subject}" is ${String(jwk.kty)}; only EC and RSA CA keys are supported`);
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TrellisError('InvalidTrustBundle', 500, `${name} must be a non-negative whole number, got ${value}`);
  }
  return value;
}
