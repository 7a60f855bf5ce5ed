/**
 * X509-SVID rules (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md) applied to
 * a certificate ACM Private CA returned, before Trellis stores it and announces it.
 * Every broken rule is reported, each with a message that says what is wrong.
 */
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509Certificate,
} from '../x509';
import { TrellisError } from '../errors';
import { decodePem } from './pem';
import { readSanExtension, SAN_OID } from './san';

const CERTIFICATE_LABEL = 'CERTIFICATE';
const BASIC_CONSTRAINTS_OID = '2.5.29.19';
const KEY_USAGE_OID = '2.5.29.15';
const EXTENDED_KEY_USAGE_OID = '2.5.29.37';
export const DEFAULT_VALIDITY_TOLERANCE_SECONDS = 5;

export type SvidRule =
  | 'not-pem'
  | 'malformed'
  | 'single-certificate'
  | 'extensions-unreadable'
  | 'uri-san-count'
  | 'spiffe-id'
  | 'san-critical'
  | 'basic-constraints-missing'
  | 'basic-constraints-ca'
  | 'key-usage-missing'
  | 'key-usage-critical'
  | 'key-usage-digital-signature'
  | 'key-usage-cert-sign'
  | 'key-usage-crl-sign'
  | 'extended-key-usage'
  | 'signature-hash'
  | 'not-before'
  | 'not-after'
  | 'ca-certificate'
  | 'issuer'
  | 'signature';

export interface SvidViolation {
  rule: SvidRule;
  message: string;
}

export type SvidCheckResult =
  | { ok: true; serialHex: string; notBefore: Date; notAfter: Date }
  | { ok: false; violations: SvidViolation[] };

export interface SvidExpectation {
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  /** Allowed difference between expected and actual validity bounds; default 5 s. */
  toleranceSeconds?: number;
  /** PEM of the issuing CA (a chain is accepted: its first certificate is taken as the issuer). */
  caCertPem?: string;
}

type CertificatesResult = { ok: true; certificates: X509Certificate[] } | { ok: false; rule: 'not-pem' | 'malformed'; message: string };

function decodeCertificates(pem: string): CertificatesResult {
  const decoded = decodePem(pem);
  if (!decoded.ok) return { ok: false, rule: 'not-pem', message: decoded.message };
  const certificates: X509Certificate[] = [];
  for (const [index, block] of decoded.blocks.entries()) {
    if (block.label !== CERTIFICATE_LABEL) {
      return { ok: false, rule: 'not-pem', message: `PEM block ${index + 1} is a "${block.label}", not a "${CERTIFICATE_LABEL}"` };
    }
    try {
      const certificate = new X509Certificate(block.der);
      // Touch lazily decoded fields so a broken encoding fails here.
      void certificate.subject;
      void certificate.publicKey;
      certificates.push(certificate);
    } catch {
      return { ok: false, rule: 'malformed', message: `PEM block ${index + 1} does not hold a DER-encoded X.509 certificate` };
    }
  }
  return { ok: true, certificates };
}

/**
 * Parses PEM text holding one or more certificates (leaf first, as ACM PCA returns a chain).
 * Throws TrellisError `InvalidCertificate` (400) for anything but CERTIFICATE blocks that decode.
 */
export function parseCertificateChain(pem: string): X509Certificate[] {
  const result = decodeCertificates(pem);
  if (!result.ok) throw new TrellisError('InvalidCertificate', 400, `invalid certificate PEM: ${result.message}`);
  return result.certificates;
}

export async function checkX509Svid(certPem: string, expected: SvidExpectation): Promise<SvidCheckResult> {
  const decoded = decodeCertificates(certPem);
  if (!decoded.ok) return { ok: false, violations: [{ rule: decoded.rule, message: decoded.message }] };
  const [cert, ...rest] = decoded.certificates;
  if (cert === undefined || rest.length > 0) {
    return { ok: false, violations: [{ rule: 'single-certificate', message: `expected exactly one certificate, got ${decoded.certificates.length}` }] };
  }

  try {
    void cert.extensions;
  } catch {
    return {
      ok: false,
      violations: [{ rule: 'extensions-unreadable', message: 'an extension cannot be decoded (for example a SAN of type otherName, X.400 or EDI party name), so the certificate cannot be checked' }],
    };
  }

  const violations: SvidViolation[] = [
    ...checkSan(cert, expected.spiffeId),
    ...checkBasicConstraints(cert),
    ...checkKeyUsage(cert),
    ...checkExtendedKeyUsage(cert),
    ...checkSignatureHash(cert),
    ...checkValidity(cert, expected),
    ...(expected.caCertPem === undefined ? [] : await checkIssuer(cert, expected.caCertPem)),
  ];
  if (violations.length > 0) return { ok: false, violations };
  return { ok: true, serialHex: cert.serialNumber.toLowerCase(), notBefore: cert.notBefore, notAfter: cert.notAfter };
}

function checkSan(cert: X509Certificate, spiffeId: string): SvidViolation[] {
  const extensions = cert.getExtensions(SAN_OID);
  if (extensions.length > 1) {
    return [{ rule: 'uri-san-count', message: 'the certificate has more than one subjectAltName extension' }];
  }
  const san = extensions[0];
  let uris: string[];
  try {
    uris = san === undefined ? [] : readSanExtension(san).filter((n) => n.type === 'uri').map((n) => n.value);
  } catch {
    return [{ rule: 'extensions-unreadable', message: 'the subjectAltName extension cannot be decoded' }];
  }
  const violations: SvidViolation[] = [];
  const [uri] = uris;
  if (uris.length !== 1 || uri === undefined) {
    violations.push({ rule: 'uri-san-count', message: `an X509-SVID has exactly one URI SAN; this certificate has ${uris.length}${uris.length > 0 ? ` (${uris.join(', ')})` : ''}` });
  } else if (uri !== spiffeId) {
    violations.push({ rule: 'spiffe-id', message: `the URI SAN is "${uri}", expected the SPIFFE ID ${spiffeId}` });
  }
  // RFC 5280 4.1.2.6, X509-SVID 3.1: with an empty subject the SAN extension must be critical.
  if (san !== undefined && cert.subjectName.toJSON().length === 0 && !san.critical) {
    violations.push({ rule: 'san-critical', message: 'the subject is empty, so the subjectAltName extension must be marked critical' });
  }
  return violations;
}

function checkBasicConstraints(cert: X509Certificate): SvidViolation[] {
  const present = cert.getExtensions(BASIC_CONSTRAINTS_OID).length > 0;
  const bc = cert.getExtension(BasicConstraintsExtension);
  if (!present || bc === null) {
    return [{ rule: 'basic-constraints-missing', message: 'the basicConstraints extension (CA:FALSE) is missing' }];
  }
  if (bc.ca) return [{ rule: 'basic-constraints-ca', message: 'basicConstraints says CA:TRUE; a leaf X509-SVID must be CA:FALSE' }];
  return [];
}

function checkKeyUsage(cert: X509Certificate): SvidViolation[] {
  const present = cert.getExtensions(KEY_USAGE_OID).length > 0;
  const ku = cert.getExtension(KeyUsagesExtension);
  if (!present || ku === null) return [{ rule: 'key-usage-missing', message: 'the keyUsage extension is missing; an X509-SVID must carry it, critical, with digitalSignature' }];
  const violations: SvidViolation[] = [];
  if (!ku.critical) violations.push({ rule: 'key-usage-critical', message: 'the keyUsage extension must be marked critical' });
  if ((ku.usages & KeyUsageFlags.digitalSignature) === 0) {
    violations.push({ rule: 'key-usage-digital-signature', message: 'keyUsage lacks digitalSignature, which a leaf X509-SVID must set' });
  }
  if ((ku.usages & KeyUsageFlags.keyCertSign) !== 0) {
    violations.push({ rule: 'key-usage-cert-sign', message: 'keyUsage sets keyCertSign, which a leaf X509-SVID must not set' });
  }
  if ((ku.usages & KeyUsageFlags.cRLSign) !== 0) {
    violations.push({ rule: 'key-usage-crl-sign', message: 'keyUsage sets cRLSign, which a leaf X509-SVID must not set' });
  }
  return violations;
}

/** X509-SVID 4.4: the extension is optional, but when present it must allow serverAuth AND clientAuth. */
function checkExtendedKeyUsage(cert: X509Certificate): SvidViolation[] {
  if (cert.getExtensions(EXTENDED_KEY_USAGE_OID).length === 0) return [];
  const eku = cert.getExtension(ExtendedKeyUsageExtension);
  const usages = eku?.usages ?? [];
  const missing = [
    usages.includes(ExtendedKeyUsage.serverAuth) ? undefined : 'serverAuth',
    usages.includes(ExtendedKeyUsage.clientAuth) ? undefined : 'clientAuth',
  ].filter((u) => u !== undefined);
  if (missing.length === 0) return [];
  return [{
    rule: 'extended-key-usage',
    message: `extendedKeyUsage lacks ${missing.join(' and ')}; an X509-SVID that has the extension must allow both serverAuth and clientAuth (ACM PCA template EndEntityCertificate_APIPassthrough/V1 does)`,
  }];
}

/** IAM Roles Anywhere refuses certificates signed with MD5 or SHA-1 (docs/aws-behaviour.md, "IAM Roles Anywhere › Certificate requirements"). */
function checkSignatureHash(cert: X509Certificate): SvidViolation[] {
  const hash = cert.signatureAlgorithm.hash?.name?.toUpperCase();
  if (hash === 'SHA-1' || hash === 'MD5') {
    return [{ rule: 'signature-hash', message: `the certificate is signed with ${hash}; use SHA-256 or stronger` }];
  }
  return [];
}

function checkValidity(cert: X509Certificate, expected: SvidExpectation): SvidViolation[] {
  const toleranceMs = (expected.toleranceSeconds ?? DEFAULT_VALIDITY_TOLERANCE_SECONDS) * 1000;
  const violations: SvidViolation[] = [];
  if (Math.abs(cert.notBefore.getTime() - expected.notBefore.getTime()) > toleranceMs) {
    violations.push({ rule: 'not-before', message: `notBefore is ${cert.notBefore.toISOString()}, expected ${expected.notBefore.toISOString()} (±${toleranceMs / 1000} s)` });
  }
  if (Math.abs(cert.notAfter.getTime() - expected.notAfter.getTime()) > toleranceMs) {
    violations.push({ rule: 'not-after', message: `notAfter is ${cert.notAfter.toISOString()}, expected ${expected.notAfter.toISOString()} (±${toleranceMs / 1000} s)` });
  }
  return violations;
}

async function checkIssuer(cert: X509Certificate, caCertPem: string): Promise<SvidViolation[]> {
  const decoded = decodeCertificates(caCertPem);
  const ca = decoded.ok ? decoded.certificates[0] : undefined;
  if (ca === undefined) {
    return [{ rule: 'ca-certificate', message: `the CA certificate cannot be read${decoded.ok ? '' : `: ${decoded.message}`}` }];
  }
  const violations: SvidViolation[] = [];
  if (!Buffer.from(cert.issuerName.toArrayBuffer()).equals(Buffer.from(ca.subjectName.toArrayBuffer()))) {
    violations.push({ rule: 'issuer', message: `the issuer is "${cert.issuer}", expected the CA subject "${ca.subject}"` });
  }
  let verified = false;
  try {
    verified = await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    verified = false;
  }
  if (!verified) violations.push({ rule: 'signature', message: `the certificate signature does not verify with the key of the CA "${ca.subject}"` });
  return violations;
}
