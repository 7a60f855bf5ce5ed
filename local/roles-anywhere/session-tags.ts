/**
 * The session tags IAM Roles Anywhere derives from an authenticating certificate with a
 * profile's default attribute mapping (docs/aws-behaviour.md, "IAM Roles Anywhere › Trust policy and
 * session" and "› Principal tags from the certificate"), and the identity fields VPC Lattice hands a
 * Lambda target from them ("VPC Lattice data plane › Lambda event").
 */
import { type Name, X509Certificate } from '../../shared/x509';
import { readSanNames, type SanEntry } from '../../shared/svid/san';
import { parseCertificateChain } from '../../shared/svid/x509-svid';

export type PrincipalTags = Record<string, string>;

/**
 * RDN attribute types mapped by the `*` specifier, as [OID, tag suffix].
 * UNCONFIRMED: AWS says "all recognisable RDNs" without listing them. Decision: the usual
 * directory attributes with their OpenSSL short names (the docs show CN, OU, O, C, ST, L and
 * mention UID). Anything else (e.g. emailAddress) is not mapped.
 */
export const RECOGNISED_RDNS: ReadonlyArray<readonly [oid: string, tag: string]> = [
  ['2.5.4.3', 'CN'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.10', 'O'],
  ['2.5.4.6', 'C'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.7', 'L'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.5', 'SERIALNUMBER'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.12', 'T'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
];

/** STS session-tag value rule: letters, spaces, digits and _ . : / = + - @, at most 256 characters. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const MAX_TAG_VALUE_CHARS = 256;
export const MAX_SESSION_TAGS = 50;

export function isValidTagValue(value: string): boolean {
  return [...value].length <= MAX_TAG_VALUE_CHARS && TAG_VALUE.test(value);
}

function toCertificate(cert: string | X509Certificate): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  const [leaf] = parseCertificateChain(cert);
  if (leaf === undefined) throw new Error('unreachable: parseCertificateChain returns at least one certificate');
  return leaf;
}

/** Values of one attribute type, multi-valued ones joined by "/" in certificate order. */
function rdnTags(name: Name, prefix: string): [string, string][] {
  const tags: [string, string][] = [];
  for (const [oid, tag] of RECOGNISED_RDNS) {
    const values = name.getField(oid);
    if (values.length > 0) tags.push([`${prefix}/${tag}`, values.join('/')]);
  }
  return tags;
}

/**
 * Principal tags for a certificate (PEM: the first certificate is used; or a parsed one):
 * `x509Subject/<RDN>`, `x509Issuer/<RDN>`, and from the SAN only the FIRST DNS name
 * (`x509SAN/DNS`), the FIRST URI (`x509SAN/URI`) and the RDNs of the FIRST directoryName
 * (`x509SAN/Name/<RDN>`). A value that breaks the STS tag rule is dropped, not truncated, and
 * the first value is not replaced by a later one. At most 50 tags are kept, in the order
 * subject, issuer, SAN (UNCONFIRMED: what Roles Anywhere does past 50 is not documented; with
 * the recognised RDNs above at most 41 tags can arise, so the cap is only a guard).
 * A certificate whose extensions cannot be decoded yields no SAN tags (policies needing them
 * then deny).
 */
export function principalTagsFromCertificate(input: string | X509Certificate): PrincipalTags {
  const cert = toCertificate(input);
  const candidates: [string, string][] = [...rdnTags(cert.subjectName, 'x509Subject'), ...rdnTags(cert.issuerName, 'x509Issuer')];

  let sanNames: SanEntry[];
  try {
    sanNames = readSanNames(cert.extensions);
  } catch {
    sanNames = [];
  }
  const firstDns = sanNames.find((n) => n.type === 'dns');
  const firstUri = sanNames.find((n) => n.type === 'uri');
  const firstDn = sanNames.find((n) => n.type === 'directoryName');
  if (firstDns !== undefined) candidates.push(['x509SAN/DNS', firstDns.value]);
  if (firstUri !== undefined) candidates.push(['x509SAN/URI', firstUri.value]);
  if (firstDn !== undefined) candidates.push(...rdnTags(firstDn.name, 'x509SAN/Name'));

  const tags: PrincipalTags = {};
  let count = 0;
  for (const [key, value] of candidates) {
    if (count >= MAX_SESSION_TAGS) break;
    if (!isValidTagValue(value)) continue;
    tags[key] = value;
    count += 1;
  }
  return tags;
}

/**
 * The role session name Roles Anywhere sets: the certificate serial in hex.
 * UNCONFIRMED case and padding. Decision: lower case (as ACM PCA certificate ARNs spell serials),
 * the bytes of the DER INTEGER without its sign byte (so always an even number of digits; a
 * leading "0x00" is dropped only when it is the sign byte).
 */
export function sessionNameFromCertificate(input: string | X509Certificate): string {
  return toCertificate(input).serialNumber.toLowerCase();
}

/** The `requestContext.identity` x509 fields Lattice derives from the session's principal tags. */
export interface LatticeX509Identity {
  x509SanUri?: string;
  x509SanDns?: string;
  x509SanNameCn?: string;
  x509SubjectCn?: string;
  x509IssuerOu?: string;
}

export function latticeIdentityFromTags(tags: PrincipalTags): LatticeX509Identity {
  const identity: LatticeX509Identity = {};
  const pick = (field: keyof LatticeX509Identity, key: string): void => {
    const value = tags[key];
    if (value !== undefined) identity[field] = value;
  };
  pick('x509SanUri', 'x509SAN/URI');
  pick('x509SanDns', 'x509SAN/DNS');
  pick('x509SanNameCn', 'x509SAN/Name/CN');
  pick('x509SubjectCn', 'x509Subject/CN');
  pick('x509IssuerOu', 'x509Issuer/OU');
  return identity;
}
