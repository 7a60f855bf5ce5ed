/**
 * The certificate rules IAM Roles Anywhere applies to an authenticating end-entity certificate
 * (docs/aws-behaviour.md, "IAM Roles Anywhere › Certificate requirements"): it chains to the trust anchor, every certificate in the
 * path is currently valid, it is X.509 v3, an end entity (CA:FALSE when basicConstraints is
 * present), has keyUsage digitalSignature and is signed with SHA-256 or stronger.
 *
 * Path building uses @peculiar/x509 X509ChainBuilder (it matches issuer names and key IDs and
 * verifies each signature); the builder does not check validity periods, CA flags or whether the
 * path ends at a trust anchor, so those are checked here. Not checked locally: pathLenConstraint,
 * name constraints, policies. Revocation is the caller's: CreateSession consults the CRLs imported
 * into the trust anchor (crls.ts); the Lattice data plane, the auth policy.
 */
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, PemConverter, X509Certificate, X509ChainBuilder } from '../../shared/x509';

export type CertificateCheck = { ok: true; chain: X509Certificate[]; warnings: string[] } | { ok: false; message: string };

export interface CheckCertificateInput {
  leaf: X509Certificate;
  intermediates: X509Certificate[];
  /** Trust anchor PEMs (each entry may hold several certificates). */
  anchors: string[];
  now: Date;
}

const STRONG_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);

/** Reads the TBSCertificate version from the DER (v3 is encoded as 2); @peculiar/x509 does not expose it. */
export function x509Version(der: Uint8Array): number {
  // Certificate SEQUENCE → TBSCertificate SEQUENCE → optional [0] EXPLICIT INTEGER version.
  const skipHeader = (bytes: Uint8Array, at: number): number => {
    const len = bytes[at + 1] ?? 0;
    return at + 2 + (len < 0x80 ? 0 : len & 0x7f);
  };
  const tbsStart = skipHeader(der, 0);
  const tbsContent = skipHeader(der, tbsStart);
  if (der[tbsContent] !== 0xa0) return 1;
  const intAt = skipHeader(der, tbsContent);
  return (der[intAt + 2] ?? 0) + 1;
}

const sameCert = (a: X509Certificate, b: X509Certificate): boolean => Buffer.from(a.rawData).equals(Buffer.from(b.rawData));

const isCurrent = (cert: X509Certificate, now: Date): boolean => cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();

export function parseCertificates(pems: string[]): X509Certificate[] {
  return pems.flatMap((pem) => PemConverter.decode(pem).map((der) => new X509Certificate(der)));
}

function leafProblem(leaf: X509Certificate, now: Date): string | undefined {
  if (x509Version(new Uint8Array(leaf.rawData)) !== 3) return 'the certificate is not X.509 v3';
  if (!isCurrent(leaf, now)) return `the certificate is not valid now (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()})`;
  const hash = leaf.signatureAlgorithm.hash?.name;
  if (hash === undefined || !STRONG_HASHES.has(hash)) return `the certificate signature hash ${hash ?? 'unknown'} is not SHA-256 or stronger`;
  const bc = leaf.getExtension(BasicConstraintsExtension);
  if (bc?.ca === true) return 'the certificate is a CA certificate (basicConstraints CA:TRUE), not an end entity';
  const ku = leaf.getExtension(KeyUsagesExtension);
  if (ku === null || (ku.usages & KeyUsageFlags.digitalSignature) === 0) return 'the certificate keyUsage does not include digitalSignature';
  return undefined;
}

export async function checkCertificate(input: CheckCertificateInput): Promise<CertificateCheck> {
  const { leaf, now } = input;
  const problem = leafProblem(leaf, now);
  if (problem !== undefined) return { ok: false, message: problem };

  const anchors = parseCertificates(input.anchors);
  if (anchors.length === 0) return { ok: false, message: 'no trust anchor is configured' };
  let path: X509Certificate[];
  try {
    path = [...(await new X509ChainBuilder({ certificates: [...input.intermediates, ...anchors] }).build(leaf))];
  } catch (err) {
    return { ok: false, message: `could not build a certificate path: ${(err as Error).message}` };
  }
  const anchorAt = path.findIndex((cert, i) => i > 0 && anchors.some((a) => sameCert(a, cert)));
  if (anchorAt < 0) return { ok: false, message: 'the certificate does not chain to the trust anchor' };
  const chain = path.slice(0, anchorAt + 1);

  for (const [i, cert] of chain.entries()) {
    if (i > 0 && !isCurrent(cert, now)) return { ok: false, message: `CA certificate ${cert.subject} is not valid now` };
    if (i > 0 && i < anchorAt) {
      const bc = cert.getExtension(BasicConstraintsExtension);
      const ku = cert.getExtension(KeyUsagesExtension);
      if (bc?.ca !== true) return { ok: false, message: `intermediate ${cert.subject} is not a CA certificate` };
      if (ku !== null && (ku.usages & KeyUsageFlags.keyCertSign) === 0) return { ok: false, message: `intermediate ${cert.subject} may not sign certificates` };
    }
  }

  const warnings: string[] = [];
  if (leaf.subjectName.toJSON().length === 0) {
    // Real Roles Anywhere does not support empty-subject certificates; SPIFFE X509-SVIDs may
    // have one (the identity is the URI SAN). Accepted locally so SVIDs work, but flagged.
    warnings.push('the certificate has an empty subject: accepted locally, but IAM Roles Anywhere does not support empty-subject certificates');
  }
  return { ok: true, chain, warnings };
}
