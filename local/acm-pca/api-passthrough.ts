/**
 * IssueCertificate `ApiPassthrough` (docs/aws-behaviour.md, "ACM Private CA › API passthrough"):
 * validated, then turned into a subject
 * Name and X.509 extensions. Which of these end up in the certificate is the template's call
 * (local-ca.ts); this file only builds them.
 *
 * Decision (UNCONFIRMED; docs/aws-behaviour.md, "Decisions where AWS is unconfirmed › PCA
 * decisions"): a violated ApiPassthrough constraint (e.g. a UniformResourceIdentifier over 253
 * characters) answers InvalidArgsException, not the ValidationException used for top-level members.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  type JsonGeneralName,
  type JsonNameParams,
} from '../../shared/x509';
import { derIa5String, derOid, derSequence } from './der';
import { pcaError } from './pca-error';
import { parseMembers, STRICT_BASE64 } from './wire-validation';

export const OID_PATTERN = /^([0-2])\.([0-9]|([0-3][0-9]))((\.([0-9]+)){0,126})$/;
const oid = z.string().max(64).regex(OID_PATTERN);
const PRINTABLE = /^[a-zA-Z0-9'()+\-.?:/= ]*$/;

export const OID = {
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  certificatePolicies: '2.5.29.32',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

const asn1SubjectSchema = z.object({
  Country: z.string().regex(/^[A-Za-z]{2}$/).optional(),
  Organization: z.string().max(64).optional(),
  OrganizationalUnit: z.string().max(64).optional(),
  DistinguishedNameQualifier: z.string().max(64).regex(PRINTABLE).optional(),
  State: z.string().max(128).optional(),
  CommonName: z.string().max(64).optional(),
  SerialNumber: z.string().max(64).regex(PRINTABLE).optional(),
  Locality: z.string().max(128).optional(),
  Title: z.string().max(64).optional(),
  Surname: z.string().max(40).optional(),
  GivenName: z.string().max(16).optional(),
  Initials: z.string().max(5).optional(),
  Pseudonym: z.string().max(128).optional(),
  GenerationQualifier: z.string().max(3).optional(),
  CustomAttributes: z
    .array(z.object({ ObjectIdentifier: oid, Value: z.string().min(1).max(256) }))
    .min(1)
    .max(150)
    .optional(),
});
export type Asn1Subject = z.infer<typeof asn1SubjectSchema>;

const generalNameSchema = z
  .object({
    OtherName: z.object({ TypeId: oid, Value: z.string().max(256) }).optional(),
    Rfc822Name: z.string().max(256).optional(),
    DnsName: z.string().max(253).optional(),
    DirectoryName: asn1SubjectSchema.optional(),
    EdiPartyName: z.object({ PartyName: z.string().max(256), NameAssigner: z.string().max(256).optional() }).optional(),
    UniformResourceIdentifier: z.string().max(253).optional(),
    IpAddress: z.string().max(39).optional(),
    RegisteredId: oid.optional(),
  })
  .refine((name) => Object.values(name).filter((v) => v !== undefined).length === 1, 'Member must set exactly one kind of name');
export type GeneralNameInput = z.infer<typeof generalNameSchema>;

const EKU_TYPES = {
  SERVER_AUTH: '1.3.6.1.5.5.7.3.1',
  CLIENT_AUTH: '1.3.6.1.5.5.7.3.2',
  CODE_SIGNING: '1.3.6.1.5.5.7.3.3',
  EMAIL_PROTECTION: '1.3.6.1.5.5.7.3.4',
  TIME_STAMPING: '1.3.6.1.5.5.7.3.8',
  OCSP_SIGNING: '1.3.6.1.5.5.7.3.9',
  SMART_CARD_LOGIN: '1.3.6.1.4.1.311.20.2.2',
  DOCUMENT_SIGNING: '1.3.6.1.4.1.311.10.3.12',
  CERTIFICATE_TRANSPARENCY: '1.3.6.1.4.1.11129.2.4.4',
} as const;
type EkuType = keyof typeof EKU_TYPES;

/** Bit values as @peculiar/x509's KeyUsageFlags defines them. */
const KEY_USAGE_BITS = {
  DigitalSignature: 1,
  NonRepudiation: 2,
  KeyEncipherment: 4,
  DataEncipherment: 8,
  KeyAgreement: 16,
  KeyCertSign: 32,
  CRLSign: 64,
  EncipherOnly: 128,
  DecipherOnly: 256,
} as const;

const extensionsSchema = z.object({
  CertificatePolicies: z
    .array(
      z.object({
        CertPolicyId: oid,
        PolicyQualifiers: z
          .array(z.object({ PolicyQualifierId: z.enum(['CPS']), Qualifier: z.object({ CpsUri: z.string().max(256) }) }))
          .min(1)
          .max(20)
          .optional(),
      }),
    )
    .min(1)
    .max(20)
    .optional(),
  ExtendedKeyUsage: z
    .array(
      z
        .object({
          ExtendedKeyUsageType: z.enum(Object.keys(EKU_TYPES) as [EkuType, ...EkuType[]]).optional(),
          ExtendedKeyUsageObjectIdentifier: oid.optional(),
        })
        .refine((u) => (u.ExtendedKeyUsageType === undefined) !== (u.ExtendedKeyUsageObjectIdentifier === undefined), 'Member must set exactly one of ExtendedKeyUsageType, ExtendedKeyUsageObjectIdentifier'),
    )
    .min(1)
    .max(20)
    .optional(),
  KeyUsage: z.object(Object.fromEntries(Object.keys(KEY_USAGE_BITS).map((k) => [k, z.boolean().optional()])) as Record<keyof typeof KEY_USAGE_BITS, z.ZodOptional<z.ZodBoolean>>).optional(),
  SubjectAlternativeNames: z.array(generalNameSchema).min(1).max(150).optional(),
  CustomExtensions: z
    .array(z.object({ ObjectIdentifier: oid, Value: z.string().min(1).max(4096), Critical: z.boolean().optional() }))
    .min(1)
    .max(150)
    .optional(),
});

export const apiPassthroughSchema = z.object({ Extensions: extensionsSchema.optional(), Subject: asn1SubjectSchema.optional() });
export type ApiPassthrough = z.infer<typeof apiPassthroughSchema>;
export type ApiPassthroughExtensions = z.infer<typeof extensionsSchema>;

export function parseApiPassthrough(input: unknown): ApiPassthrough {
  return parseMembers(apiPassthroughSchema, input, 'InvalidArgsException', ['apiPassthrough']);
}

// RDN order in the issued subject, most significant first. AWS's order is UNCONFIRMED; this is
// the conventional X.500 order. C, SERIALNUMBER and dnQualifier are PrintableString by their ASN.1
// definitions; the rest are UTF8String.
const SUBJECT_ATTRIBUTES: ReadonlyArray<readonly [Exclude<keyof Asn1Subject, 'CustomAttributes'>, string, 'printableString' | 'utf8String']> = [
  ['Country', '2.5.4.6', 'printableString'],
  ['State', '2.5.4.8', 'utf8String'],
  ['Locality', '2.5.4.7', 'utf8String'],
  ['Organization', '2.5.4.10', 'utf8String'],
  ['OrganizationalUnit', '2.5.4.11', 'utf8String'],
  ['DistinguishedNameQualifier', '2.5.4.46', 'printableString'],
  ['SerialNumber', '2.5.4.5', 'printableString'],
  ['CommonName', '2.5.4.3', 'utf8String'],
  ['Title', '2.5.4.12', 'utf8String'],
  ['Surname', '2.5.4.4', 'utf8String'],
  ['GivenName', '2.5.4.42', 'utf8String'],
  ['Initials', '2.5.4.43', 'utf8String'],
  ['Pseudonym', '2.5.4.65', 'utf8String'],
  ['GenerationQualifier', '2.5.4.44', 'utf8String'],
];

/** An ASN1Subject as an X.500 Name. Empty strings count as absent. */
export function subjectName(subject: Asn1Subject): Name {
  const standard = SUBJECT_ATTRIBUTES.filter(([field]) => (subject[field] ?? '') !== '');
  const custom = subject.CustomAttributes ?? [];
  if (custom.length > 0 && standard.length > 0) {
    // The AWS API reference: "Custom attributes cannot be used in combination with standard attributes."
    throw pcaError('InvalidArgsException', 'Subject CustomAttributes cannot be combined with standard subject attributes.');
  }
  const rdns: JsonNameParams = [
    ...standard.map(([field, attrOid, kind]) => ({ [attrOid]: [{ [kind]: subject[field] ?? '' }] })),
    ...custom.map((a) => ({ [a.ObjectIdentifier]: [{ utf8String: a.Value }] })),
  ];
  if (rdns.length === 0) throw pcaError('InvalidArgsException', 'Subject must set at least one attribute.');
  return new Name(rdns);
}

function generalName(name: GeneralNameInput): JsonGeneralName {
  if (name.UniformResourceIdentifier !== undefined) return { type: 'url', value: name.UniformResourceIdentifier };
  if (name.DnsName !== undefined) return { type: 'dns', value: name.DnsName };
  if (name.Rfc822Name !== undefined) return { type: 'email', value: name.Rfc822Name };
  if (name.RegisteredId !== undefined) return { type: 'id', value: name.RegisteredId };
  if (name.IpAddress !== undefined) {
    if (isIP(name.IpAddress) === 0) throw pcaError('InvalidArgsException', `IpAddress ${name.IpAddress} is not an IPv4 or IPv6 address.`);
    return { type: 'ip', value: name.IpAddress };
  }
  if (name.DirectoryName !== undefined) return { type: 'dn', value: subjectName(name.DirectoryName).toString() };
  // OtherName's value encoding and EdiPartyName are not documented well enough to reproduce.
  throw pcaError('InvalidArgsException', 'OtherName and EdiPartyName subject alternative names are not supported by the local ACM PCA emulator.');
}

export function subjectAltNameExtension(names: readonly GeneralNameInput[], critical = false): SubjectAlternativeNameExtension {
  return new SubjectAlternativeNameExtension(names.map(generalName), critical);
}


function certificatePoliciesExtension(policies: NonNullable<ApiPassthroughExtensions['CertificatePolicies']>): Extension {
  const value = derSequence(
    ...policies.map((p) =>
      derSequence(
        derOid(p.CertPolicyId),
        ...(p.PolicyQualifiers === undefined
          ? []
          : [derSequence(...p.PolicyQualifiers.map((q) => derSequence(derOid('1.3.6.1.5.5.7.2.1'), derIa5String(q.Qualifier.CpsUri))))]),
      ),
    ),
  );
  return new Extension(OID.certificatePolicies, false, value);
}

/**
 * The extensions ApiPassthrough.Extensions asks for, keyed by OID. Two API sources for one OID
 * (e.g. SubjectAlternativeNames and a CustomExtension 2.5.29.17) are refused.
 * API key usage is marked critical (RFC 5280 recommends it; AWS's choice is UNCONFIRMED).
 */
export function passthroughExtensions(extensions: ApiPassthroughExtensions): Map<string, Extension> {
  const out = new Map<string, Extension>();
  const put = (ext: Extension): void => {
    if (out.has(ext.type)) throw pcaError('InvalidArgsException', `ApiPassthrough sets the extension ${ext.type} more than once.`);
    out.set(ext.type, ext);
  };
  if (extensions.KeyUsage !== undefined) {
    const ku = extensions.KeyUsage;
    const flags = (Object.keys(KEY_USAGE_BITS) as (keyof typeof KEY_USAGE_BITS)[]).reduce((acc, k) => (ku[k] === true ? acc | KEY_USAGE_BITS[k] : acc), 0);
    if (flags === 0) throw pcaError('InvalidArgsException', 'ApiPassthrough KeyUsage must set at least one usage to true.');
    put(new KeyUsagesExtension(flags, true));
  }
  if (extensions.ExtendedKeyUsage !== undefined) {
    const usages = extensions.ExtendedKeyUsage.map((u) => (u.ExtendedKeyUsageType !== undefined ? EKU_TYPES[u.ExtendedKeyUsageType] : (u.ExtendedKeyUsageObjectIdentifier ?? '')));
    put(new ExtendedKeyUsageExtension(usages, false));
  }
  if (extensions.SubjectAlternativeNames !== undefined) put(subjectAltNameExtension(extensions.SubjectAlternativeNames));
  if (extensions.CertificatePolicies !== undefined) put(certificatePoliciesExtension(extensions.CertificatePolicies));
  for (const custom of extensions.CustomExtensions ?? []) {
    if (!STRICT_BASE64.test(custom.Value)) {
      throw pcaError('InvalidArgsException', `CustomExtensions value for ${custom.ObjectIdentifier} is not valid base64.`);
    }
    put(new Extension(custom.ObjectIdentifier, custom.Critical ?? false, Buffer.from(custom.Value, 'base64')));
  }
  return out;
}
