/**
 * Principal (session) tags IAM Roles Anywhere derives from the authenticating certificate with
 * a profile's DEFAULT attribute mapping (AWS-REFERENCE 4.2):
 *  - x509Subject/<RDN> and x509Issuer/<RDN> for every supported RDN; repeated RDNs are joined
 *    with "/" in certificate order ("Security/Engineering");
 *  - x509SAN/DNS, x509SAN/URI: the FIRST value of each type only; x509SAN/Name/<RDN> from the
 *    first DirectoryName; IP, email, otherName... are not mapped;
 *  - a value that breaks the STS session-tag rules is dropped silently (not truncated).
 *
 * Local stand-in only. TODO(lead): replace with the shared derivation in shared/svid/ once it lands.
 */
import '../../shared/svid/reflect-shim';
import { Name, SubjectAlternativeNameExtension, type X509Certificate } from '@peculiar/x509';

/**
 * UNCONFIRMED which RDNs count as "supported": we map the ones the AWS docs name
 * (CN, OU, O, C, ST, L) plus DC; anything else is not mapped.
 */
const SUPPORTED_RDNS = new Set(['CN', 'OU', 'O', 'C', 'ST', 'L', 'DC']);

/** STS session-tag limits (UNCONFIRMED for Roles Anywhere, see AWS-REFERENCE 4.2). */
const MAX_KEY_LENGTH = 128;
const MAX_VALUE_LENGTH = 256;
const MAX_TAGS = 50;
const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** RDN short name → values, in certificate order. */
export function rdnValues(name: Name): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const rdn of name.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      if (!SUPPORTED_RDNS.has(type)) continue;
      out.set(type, [...(out.get(type) ?? []), ...values]);
    }
  }
  return out;
}

/** The content octets of a DER TLV (skips tag and length). */
function derContent(bytes: Uint8Array): Uint8Array {
  const first = bytes[1] ?? 0;
  if (first < 0x80) return bytes.subarray(2, 2 + first);
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (bytes[2 + i] ?? 0);
  return bytes.subarray(2 + n, 2 + n + length);
}

interface SanFirsts {
  dns?: string;
  uri?: string;
  directoryName?: Name;
}

function firstSans(cert: X509Certificate): SanFirsts {
  let ext: SubjectAlternativeNameExtension | null;
  try {
    ext = cert.getExtension(SubjectAlternativeNameExtension);
  } catch {
    return {}; // a SAN with name forms @peculiar/x509 cannot parse: nothing mappable
  }
  const out: SanFirsts = {};
  for (const gn of ext?.names.items ?? []) {
    if (gn.type === 'dns' && out.dns === undefined) out.dns = gn.value;
    if (gn.type === 'url' && out.uri === undefined) out.uri = gn.value;
    if (gn.type === 'dn' && out.directoryName === undefined) {
      // directoryName is [4] EXPLICIT Name: the content octets are the Name's DER.
      out.directoryName = new Name(derContent(new Uint8Array(gn.rawData)));
    }
  }
  return out;
}

export function isValidTag(key: string, value: string): boolean {
  return key.length <= MAX_KEY_LENGTH && value.length <= MAX_VALUE_LENGTH && TAG_VALUE_PATTERN.test(value);
}

/** The principal tags of a session created with this end-entity certificate. */
export function derivePrincipalTags(cert: X509Certificate): Record<string, string> {
  const candidates: Array<[string, string]> = [];
  for (const [type, values] of rdnValues(cert.subjectName)) candidates.push([`x509Subject/${type}`, values.join('/')]);
  for (const [type, values] of rdnValues(cert.issuerName)) candidates.push([`x509Issuer/${type}`, values.join('/')]);
  const san = firstSans(cert);
  if (san.dns !== undefined) candidates.push(['x509SAN/DNS', san.dns]);
  if (san.uri !== undefined) candidates.push(['x509SAN/URI', san.uri]);
  if (san.directoryName !== undefined) {
    for (const [type, values] of rdnValues(san.directoryName)) candidates.push([`x509SAN/Name/${type}`, values.join('/')]);
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of candidates) {
    if (Object.keys(tags).length >= MAX_TAGS) break;
    if (isValidTag(key, value)) tags[key] = value;
  }
  return tags;
}

/**
 * The session's source identity: the subject CN(s). The `CN=` prefix follows the docs'
 * `${sourceIdentityPrefix}${sourceIdentityValue}` (exact format UNCONFIRMED); undefined without a CN.
 */
export function sourceIdentityOf(cert: X509Certificate): string | undefined {
  const cns = rdnValues(cert.subjectName).get('CN');
  return cns === undefined || cns.length === 0 ? undefined : `CN=${cns.join('/')}`;
}
