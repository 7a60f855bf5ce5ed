/**
 * Admission check for a workload's certificate signing request (PKCS #10), before it goes to
 * ACM Private CA.
 *
 * Mandatory, not a nicety: every ACM PCA end-entity template copies the CSR's Subject and SAN
 * wherever the API passthrough gives none (docs/aws-behaviour.md, "ACM Private CA › Templates"), so
 * anything a workload smuggles
 * into its CSR (a second URI, somebody else's DNS name, a SPIFFE ID in the CN) could end up in
 * a certificate that IAM Roles Anywhere turns into principal tags. The CSR may therefore only
 * ask for names the registration entry already grants.
 */
import { Pkcs10CertificateRequest } from '../x509';
import type { webcrypto } from 'node:crypto';
import { decodePem } from './pem';
import { readSanNames, type SanEntry } from './san';

/** The ACM PCA `IssueCertificate` `Csr` blob limit, in bytes of the PEM text. */
export const CSR_MAX_BYTES = 32_768;
/** Largest RSA modulus accepted: RSA_4096 is the largest RSA key size ACM Private CA offers. */
export const RSA_MAX_BITS = 4096;
export const RSA_MIN_BITS = 2048;

const EXTENSION_REQUEST_OID = '1.2.840.113549.1.9.14';
const CSR_LABEL = 'CERTIFICATE REQUEST';

export type CsrRejection =
  | 'too-large'
  | 'not-pem'
  | 'malformed'
  | 'bad-signature'
  | 'weak-key'
  | 'unsupported-key'
  | 'foreign-uri'
  | 'foreign-dns'
  | 'foreign-san'
  | 'subject-spiffe'
  | 'empty-name';

export interface CsrPublicKey {
  algorithm: 'EC' | 'RSA';
  curve?: 'P-256' | 'P-384';
  bits?: number;
}

export type CsrCheckResult =
  | { ok: true; publicKey: CsrPublicKey; subject: string }
  | { ok: false; reason: CsrRejection; message: string };

export interface CsrEntry {
  /** The workload's SPIFFE ID: the only URI SAN a CSR may ask for. */
  spiffeId: string;
  /** DNS names the registration entry grants (compared case-insensitively). */
  dnsNames: string[];
}

const reject = (reason: CsrRejection, message: string): CsrCheckResult => ({ ok: false, reason, message });

export async function checkCsr(csrPem: string, entry: CsrEntry): Promise<CsrCheckResult> {
  if (typeof csrPem !== 'string' || csrPem.trim() === '') {
    return reject('not-pem', 'send the CSR as PEM text: one "-----BEGIN CERTIFICATE REQUEST-----" block');
  }
  const size = Buffer.byteLength(csrPem, 'utf8');
  if (size > CSR_MAX_BYTES) {
    return reject('too-large', `the CSR is ${size} bytes; ACM Private CA accepts at most ${CSR_MAX_BYTES}: drop attributes and extensions you do not need`);
  }

  const pem = decodePem(csrPem);
  if (!pem.ok) return reject('not-pem', `the CSR is not valid PEM: ${pem.message}`);
  const [block, ...more] = pem.blocks;
  if (block === undefined || more.length > 0) {
    return reject('not-pem', `send exactly one "${CSR_LABEL}" PEM block, not ${pem.blocks.length}`);
  }
  if (block.label !== CSR_LABEL) {
    return reject('not-pem', `the PEM block is a "${block.label}"; send a "-----BEGIN ${CSR_LABEL}-----" block`);
  }

  const parsed = parseCsr(block.der);
  if (!parsed.ok) return parsed.result;
  const { csr, sanNames } = parsed;

  const key = classifyKey(csr);
  if (!key.ok) return key.result;

  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) {
    return reject('bad-signature', 'the CSR self-signature does not verify: sign the request with the private key of the public key it carries, and do not alter it afterwards');
  }

  const sanProblem = checkSanNames(sanNames, entry);
  if (sanProblem !== undefined) return sanProblem;

  const subjectProblem = checkSubject(csr);
  if (subjectProblem !== undefined) return subjectProblem;

  if (csr.subjectName.toJSON().length === 0 && sanNames.length === 0) {
    return reject(
      'empty-name',
      `the CSR has neither a subject nor a SAN, which ACM Private CA refuses: set a subject such as "CN=<workload>" or add the URI SAN ${entry.spiffeId}`,
    );
  }
  return { ok: true, publicKey: key.publicKey, subject: csr.subject };
}

type Parsed = { ok: true; csr: Pkcs10CertificateRequest; sanNames: SanEntry[] } | { ok: false; result: CsrCheckResult };

function parseCsr(der: Uint8Array): Parsed {
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(der);
    // Touch the lazily decoded parts so a broken encoding surfaces here, not later.
    void csr.subject;
    void csr.publicKey;
  } catch {
    return { ok: false, result: reject('malformed', 'the PEM block does not hold a DER-encoded PKCS #10 certificate request; generate it with a standard tool (openssl req, Go x509.CreateCertificateRequest, …)') };
  }
  try {
    // @peculiar/x509 reads only the first extensionRequest attribute; a second one could hide
    // extensions from this check while another parser honours them, so refuse it outright.
    if (csr.getAttributes(EXTENSION_REQUEST_OID).length > 1) {
      return { ok: false, result: reject('malformed', 'the CSR carries more than one extensionRequest attribute; put all requested extensions in a single one') };
    }
    return { ok: true, csr, sanNames: readSanNames(csr.extensions) };
  } catch {
    return { ok: false, result: reject('malformed', 'the extensions requested by the CSR cannot be decoded') };
  }
}

type KeyResult = { ok: true; publicKey: CsrPublicKey } | { ok: false; result: CsrCheckResult };

function classifyKey(csr: Pkcs10CertificateRequest): KeyResult {
  let algorithm: webcrypto.Algorithm & { namedCurve?: unknown; modulusLength?: unknown };
  try {
    algorithm = csr.publicKey.algorithm;
  } catch {
    return { ok: false, result: reject('unsupported-key', 'the CSR public key type is not recognised: use an EC P-256 or P-384 key, or RSA of 2048 to 4096 bits') };
  }
  if (algorithm.name === 'ECDSA' || algorithm.name === 'ECDH') {
    const curve = algorithm.namedCurve;
    if (curve === 'P-256' || curve === 'P-384') return { ok: true, publicKey: { algorithm: 'EC', curve } };
    const named = typeof curve === 'string' ? curve : 'this curve';
    return { ok: false, result: reject('unsupported-key', `EC keys on ${named} are not accepted: use P-256 or P-384`) };
  }
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' || algorithm.name === 'RSA-PSS' || algorithm.name === 'RSA-OAEP') {
    const bits = typeof algorithm.modulusLength === 'number' ? algorithm.modulusLength : 0;
    if (bits < RSA_MIN_BITS) {
      return { ok: false, result: reject('weak-key', `the RSA key has ${bits} bits; use at least ${RSA_MIN_BITS} (or an EC P-256 key)`) };
    }
    if (bits > RSA_MAX_BITS) {
      return { ok: false, result: reject('unsupported-key', `the RSA key has ${bits} bits; use ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`) };
    }
    return { ok: true, publicKey: { algorithm: 'RSA', bits } };
  }
  return {
    ok: false,
    result: reject('unsupported-key', `${algorithm.name} keys are not accepted: use an EC P-256 or P-384 key, or RSA of ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits`),
  };
}

const SAN_TYPE_NAMES: Record<Exclude<SanEntry['type'], 'uri' | 'dns'>, string> = {
  email: 'email (rfc822Name)',
  ip: 'IP address',
  directoryName: 'directoryName',
  otherName: 'otherName',
  registeredId: 'registeredID',
  x400Address: 'X.400 address',
  ediPartyName: 'EDI party name',
};

function checkSanNames(names: SanEntry[], entry: CsrEntry): CsrCheckResult | undefined {
  const allowedDns = new Set(entry.dnsNames.map(normaliseDns));
  const uris = names.filter((n) => n.type === 'uri');
  for (const uri of uris) {
    if (uri.value !== entry.spiffeId) {
      return reject('foreign-uri', `the CSR asks for the URI SAN "${uri.value}"; the only URI SAN allowed is the workload's SPIFFE ID ${entry.spiffeId}: remove the other one`);
    }
  }
  if (uris.length > 1) {
    return reject('foreign-uri', `the CSR asks for ${uris.length} URI SANs; an X509-SVID has exactly one: keep only ${entry.spiffeId}, once`);
  }
  for (const name of names) {
    if (name.type === 'uri') continue;
    if (name.type === 'dns') {
      if (!allowedDns.has(normaliseDns(name.value))) {
        const allowed = entry.dnsNames.length === 0 ? 'the workload has no DNS names registered' : `registered: ${entry.dnsNames.join(', ')}`;
        return reject('foreign-dns', `the CSR asks for the DNS SAN "${name.value}", which the workload's registration does not grant (${allowed}): remove it or register it first`);
      }
      continue;
    }
    const shown = name.value === '' ? '' : ` ("${name.value}")`;
    return reject('foreign-san', `the CSR asks for a SAN of type ${SAN_TYPE_NAMES[name.type]}${shown}; Trellis issues only the SPIFFE ID (URI) and registered DNS names: remove it`);
  }
  return undefined;
}

function checkSubject(csr: Pkcs10CertificateRequest): CsrCheckResult | undefined {
  for (const rdn of csr.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      for (const value of values) {
        if (/spiffe:/i.test(value)) {
          return reject('subject-spiffe', `the CSR subject carries a SPIFFE ID (${type}=${value}); a SPIFFE ID belongs only in the URI SAN: use a plain name such as "CN=<workload>" or leave the subject empty`);
        }
      }
    }
  }
  return undefined;
}

/** DNS names compare case-insensitively, and a trailing root dot does not change the name. */
function normaliseDns(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
