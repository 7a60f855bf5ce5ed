/**
 * The AWS Private CA certificate templates (docs/aws-behaviour.md, "ACM Private CA › Templates") as data: which sources a
 * template honours (API passthrough, CSR passthrough) and which key usage / extended key usage it
 * fixes. CA templates are recognised by name but refused: this emulator is a single root CA that
 * issues end-entity certificates only.
 */
import { pcaError } from './pca-error';

/** OIDs of the extended key usages a template can fix (RFC 5280 4.2.1.12). */
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Key usage bits as @peculiar/x509's KeyUsageFlags numbers them (kept here so this file stays pure data). */
export const KU = { digitalSignature: 1, keyEncipherment: 4 } as const;

export interface TemplateDefinition {
  /** `<Name>/V1`, e.g. `EndEntityClientAuthCertificate_APIPassthrough/V1`. */
  readonly name: string;
  readonly arn: string;
  readonly honoursApiPassthrough: boolean;
  readonly honoursCsrPassthrough: boolean;
  /** Key usage the template fixes (always critical), or undefined when it leaves KU to the API / CSR. */
  readonly keyUsage: number | undefined;
  /** Extended key usage the template fixes, or undefined when it leaves EKU to the API / CSR. */
  readonly extendedKeyUsage: { readonly usages: readonly string[]; readonly critical: boolean } | undefined;
}

interface Family {
  readonly base: string;
  /** BlankEndEntityCertificate has no base variant, only the passthrough ones. */
  readonly hasBase: boolean;
  readonly keyUsage: number | undefined;
  readonly extendedKeyUsage: TemplateDefinition['extendedKeyUsage'];
}

const KU_SIGN_AND_ENCIPHER = KU.digitalSignature | KU.keyEncipherment;

// From the AWS template definitions. The CodeSigning and OCSPSigning rows are UNCONFIRMED
// (docs/aws-behaviour.md, "Decisions where AWS is unconfirmed › PCA decisions"); decided: KU
// critical digitalSignature and a critical EKU, as the AWS
// definitions pages list them ("Critical, code signing" / "Critical, OCSP signing").
const FAMILIES: readonly Family[] = [
  { base: 'EndEntityCertificate', hasBase: true, keyUsage: KU_SIGN_AND_ENCIPHER, extendedKeyUsage: { usages: [EKU.serverAuth, EKU.clientAuth], critical: false } },
  { base: 'EndEntityClientAuthCertificate', hasBase: true, keyUsage: KU_SIGN_AND_ENCIPHER, extendedKeyUsage: { usages: [EKU.clientAuth], critical: false } },
  { base: 'EndEntityServerAuthCertificate', hasBase: true, keyUsage: KU_SIGN_AND_ENCIPHER, extendedKeyUsage: { usages: [EKU.serverAuth], critical: false } },
  { base: 'BlankEndEntityCertificate', hasBase: false, keyUsage: undefined, extendedKeyUsage: undefined },
  { base: 'CodeSigningCertificate', hasBase: true, keyUsage: KU.digitalSignature, extendedKeyUsage: { usages: [EKU.codeSigning], critical: true } },
  { base: 'OCSPSigningCertificate', hasBase: true, keyUsage: KU.digitalSignature, extendedKeyUsage: { usages: [EKU.ocspSigning], critical: true } },
];

const VARIANTS = [
  { suffix: '', api: false, csr: false },
  { suffix: '_CSRPassthrough', api: false, csr: true },
  { suffix: '_APIPassthrough', api: true, csr: false },
  { suffix: '_APICSRPassthrough', api: true, csr: true },
] as const;

export const templateArn = (name: string, partition = 'aws'): string => `arn:${partition}:acm-pca:::template/${name}`;

const END_ENTITY_TEMPLATES: ReadonlyMap<string, TemplateDefinition> = new Map(
  FAMILIES.flatMap((family) =>
    VARIANTS.filter((v) => family.hasBase || v.suffix !== '').map((v): [string, TemplateDefinition] => {
      const name = `${family.base}${v.suffix}/V1`;
      return [
        name,
        {
          name,
          arn: templateArn(name),
          honoursApiPassthrough: v.api,
          honoursCsrPassthrough: v.csr,
          keyUsage: family.keyUsage,
          extendedKeyUsage: family.extendedKeyUsage,
        },
      ];
    }),
  ),
);

const CA_TEMPLATES: ReadonlySet<string> = new Set([
  'RootCACertificate/V1',
  'RootCACertificate_APIPassthrough/V1',
  ...[0, 1, 2, 3].flatMap((n) => [
    ...VARIANTS.map((v) => `SubordinateCACertificate_PathLen${n}${v.suffix}/V1`),
    ...VARIANTS.filter((v) => v.suffix !== '').map((v) => `BlankSubordinateCACertificate_PathLen${n}${v.suffix}/V1`),
  ]),
]);

export const DEFAULT_TEMPLATE_NAME = 'EndEntityCertificate/V1';

/** Every end-entity template name this emulator issues with (for tests and docs). */
export const supportedTemplateNames = (): string[] => [...END_ENTITY_TEMPLATES.keys()];

/** The generic ACM PCA ARN pattern from the model (docs/aws-behaviour.md, "ACM Private CA › ARNs and serials"), anchored; length 5–200. */
const ARN_PATTERN = /^arn:[\w+=/,.@-]+:acm-pca:[\w+=/,.@-]*:[0-9]*:[\w+=,.@-]+(\/[\w+=,.@-]+)*$/;

export function isWellFormedArn(arn: string): boolean {
  return arn.length >= 5 && arn.length <= 200 && ARN_PATTERN.test(arn);
}

const TEMPLATE_ARN = /^arn:([\w-]+):acm-pca:::template\/(.+)$/;

/**
 * Resolves a `TemplateArn` (or, for direct callers of LocalCa, a bare `<Name>/V1`).
 * Malformed ARN → InvalidArnException; a well-formed ARN naming no end-entity template →
 * InvalidArgsException (CA templates say they are not supported locally).
 */
export function resolveTemplate(arnOrName: string | undefined, partition = 'aws'): TemplateDefinition {
  if (arnOrName === undefined) return END_ENTITY_TEMPLATES.get(DEFAULT_TEMPLATE_NAME) as TemplateDefinition;
  let name = arnOrName;
  if (arnOrName.startsWith('arn:')) {
    if (!isWellFormedArn(arnOrName)) throw pcaError('InvalidArnException', `The template ARN ${arnOrName} is not valid.`);
    const match = TEMPLATE_ARN.exec(arnOrName);
    if (match === null || match[1] !== partition) {
      throw pcaError('InvalidArgsException', `The template ARN ${arnOrName} is not a valid template ARN; expected arn:${partition}:acm-pca:::template/<Name>/V1.`);
    }
    name = match[2] ?? '';
  }
  const template = END_ENTITY_TEMPLATES.get(name);
  if (template !== undefined) return template;
  if (CA_TEMPLATES.has(name)) {
    throw pcaError('InvalidArgsException', `The template ${name} issues CA certificates, which the local ACM PCA emulator does not support.`);
  }
  throw pcaError('InvalidArgsException', `The template ${name} does not exist.`);
}
