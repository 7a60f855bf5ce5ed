/**
 * The five ACM PCA operations the emulator answers, on already-decoded JSON input and without
 * HTTP: model validation of members, CA / certificate lookups, idempotency, asynchronous issuance
 * (RequestInProgressException) and revocation. Errors are thrown as PcaError.
 */
import { z } from 'zod';
import { CertificateStore, REVOCATION_REASONS } from './certificate-store';
import type { IssueTraffic } from './issue-traffic';
import { CA_KEY_ALGORITHM, CA_SIGNING_ALGORITHM, CA_SUBJECT, LocalCa, SIGNING_ALGORITHMS } from './local-ca';
import { pcaError } from './pca-error';
import { isWellFormedArn } from './templates';
import { VALIDITY_TYPES } from './validity';
import { parseMembers, STRICT_BASE64 } from './wire-validation';

export const OPERATIONS = [
  'IssueCertificate',
  'GetCertificate',
  'GetCertificateAuthorityCertificate',
  'DescribeCertificateAuthority',
  'RevokeCertificate',
] as const;
export type AcmPcaOperation = (typeof OPERATIONS)[number];

/**
 * Same IdempotencyToken, different parameters (UNCONFIRMED: docs/aws-behaviour.md, "ACM Private CA ›
 * Idempotency tokens").
 * Default 'return-original': the AWS docs say a repeated token within 5 minutes means "you are
 * requesting only one certificate", with no word of parameters, so the first certificate's ARN is
 * returned. 'reject' answers InvalidArgsException instead, for tests that want such misuse loud.
 */
export type IdempotencyMismatchPolicy = 'return-original' | 'reject';

export const IDEMPOTENCY_WINDOW_MS = 5 * 60 * 1000;
const MAX_CSR_BYTES = 32768;

const validitySchema = z.object({ Type: z.enum(VALIDITY_TYPES), Value: z.number().int().min(1) });

const issueSchema = z.object({
  CertificateAuthorityArn: z.string(),
  Csr: z.string(),
  SigningAlgorithm: z.enum(SIGNING_ALGORITHMS),
  Validity: validitySchema,
  TemplateArn: z.string().optional(),
  ApiPassthrough: z.record(z.string(), z.unknown()).optional(),
  ValidityNotBefore: validitySchema.optional(),
  IdempotencyToken: z
    .string()
    .min(1)
    .max(36)
    .regex(/^[\t\n\r\u0020-\u00FF]*$/)
    .optional(),
});
type IssueInput = z.infer<typeof issueSchema>;

const getCertificateSchema = z.object({ CertificateAuthorityArn: z.string(), CertificateArn: z.string() });
const caOnlySchema = z.object({ CertificateAuthorityArn: z.string() });
const revokeSchema = z.object({
  CertificateAuthorityArn: z.string(),
  CertificateSerial: z.string().max(128),
  RevocationReason: z.enum(REVOCATION_REASONS),
});

const HEX_SERIAL = /^[0-9a-fA-F]{1,2}(:?[0-9a-fA-F]{1,2})*$/;

const epochSeconds = (d: Date): number => d.getTime() / 1000;

/** JSON with object keys sorted, so two equal requests give the same text whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface IdempotencyEntry {
  readonly fingerprint: string;
  readonly expiresAt: number;
  readonly certificateArn: Promise<string>;
}

export interface AcmPcaServiceOptions {
  ca: LocalCa;
  store: CertificateStore;
  traffic: IssueTraffic;
  /** GetCertificate calls per certificate that answer RequestInProgressException first. */
  inProgressPolls: number;
  idempotencyMismatch: IdempotencyMismatchPolicy;
  now: () => Date;
}

export class AcmPcaService {
  private readonly pollsLeft = new Map<string, number>();
  private readonly tokens = new Map<string, IdempotencyEntry>();

  constructor(private readonly options: AcmPcaServiceOptions) {
    options.ca.markSerialsUsed(options.store.serials());
  }

  private get ca(): LocalCa {
    return this.options.ca;
  }

  certificateArn(serialHex: string): string {
    return `${this.ca.caArn}/certificate/${serialHex}`;
  }

  async handle(operation: AcmPcaOperation, input: unknown): Promise<Record<string, unknown>> {
    switch (operation) {
      case 'IssueCertificate':
        return this.issueCertificate(input);
      case 'GetCertificate':
        return this.getCertificate(input);
      case 'GetCertificateAuthorityCertificate':
        return this.getCertificateAuthorityCertificate(input);
      case 'DescribeCertificateAuthority':
        return this.describeCertificateAuthority(input);
      case 'RevokeCertificate':
        return this.revokeCertificate(input);
    }
  }

  private checkCaArn(arn: string): void {
    if (!isWellFormedArn(arn)) throw pcaError('InvalidArnException', `The certificate authority ARN ${arn} is not valid.`);
    if (arn !== this.ca.caArn) throw pcaError('ResourceNotFoundException', `Could not find certificate authority ${arn}.`);
  }

  async issueCertificate(raw: unknown): Promise<Record<string, unknown>> {
    const decision = this.options.traffic.onIssueCall();
    if (decision.throttle) throw pcaError('ThrottlingException', decision.message);
    const input = parseMembers(issueSchema, raw, 'ValidationException');
    this.checkCaArn(input.CertificateAuthorityArn);
    if (input.TemplateArn !== undefined && !isWellFormedArn(input.TemplateArn)) {
      throw pcaError('InvalidArnException', `The template ARN ${input.TemplateArn} is not valid.`);
    }
    if (!STRICT_BASE64.test(input.Csr)) throw pcaError('SerializationException', "Value for 'csr' is not valid base64.");
    const csrBytes = Buffer.from(input.Csr, 'base64');
    if (csrBytes.length < 1 || csrBytes.length > MAX_CSR_BYTES) {
      throw pcaError(
        'ValidationException',
        `1 validation error detected: Value at 'csr' failed to satisfy constraint: Member must have length ${csrBytes.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_CSR_BYTES}`}`,
      );
    }
    const certificateArn = input.IdempotencyToken === undefined ? this.issue(input, csrBytes) : this.issueOnce(input, input.IdempotencyToken, csrBytes);
    return { CertificateArn: await certificateArn };
  }

  private issueOnce(input: IssueInput, token: string, csrBytes: Buffer): Promise<string> {
    const nowMs = this.options.now().getTime();
    // Entries are inserted in expiry order, so expired ones sit at the front.
    for (const [key, entry] of this.tokens) {
      if (entry.expiresAt > nowMs) break;
      this.tokens.delete(key);
    }
    const key = `${input.CertificateAuthorityArn}\n${token}`;
    const { IdempotencyToken: _token, ...parameters } = input;
    const fingerprint = canonicalJson(parameters);
    const existing = this.tokens.get(key);
    if (existing !== undefined) {
      if (existing.fingerprint !== fingerprint && this.options.idempotencyMismatch === 'reject') {
        throw pcaError('InvalidArgsException', `The IdempotencyToken ${token} was already used with different parameters in the last 5 minutes.`);
      }
      return existing.certificateArn;
    }
    const certificateArn = this.issue(input, csrBytes);
    this.tokens.set(key, { fingerprint, expiresAt: nowMs + IDEMPOTENCY_WINDOW_MS, certificateArn });
    // A failed issuance does not hold the token.
    certificateArn.catch(() => {
      if (this.tokens.get(key)?.certificateArn === certificateArn) this.tokens.delete(key);
    });
    return certificateArn;
  }

  private async issue(input: IssueInput, csrBytes: Buffer): Promise<string> {
    const issuedAt = this.options.now();
    const issued = await this.ca.issue({
      csrPem: csrBytes.toString('utf8'),
      template: input.TemplateArn,
      signingAlgorithm: input.SigningAlgorithm,
      validity: input.Validity,
      validityNotBefore: input.ValidityNotBefore,
      apiPassthrough: input.ApiPassthrough,
      issuedAt,
    });
    this.options.store.add(issued.serialHex, issued.certificatePem, issuedAt);
    this.options.traffic.onIssued();
    if (this.options.inProgressPolls > 0) this.pollsLeft.set(issued.serialHex, this.options.inProgressPolls);
    return this.certificateArn(issued.serialHex);
  }

  getCertificate(raw: unknown): Record<string, unknown> {
    this.options.traffic.onGetCertificate();
    const input = parseMembers(getCertificateSchema, raw, 'ValidationException');
    this.checkCaArn(input.CertificateAuthorityArn);
    if (!isWellFormedArn(input.CertificateArn)) throw pcaError('InvalidArnException', `The certificate ARN ${input.CertificateArn} is not valid.`);
    const prefix = `${this.ca.caArn}/certificate/`;
    const serial = input.CertificateArn.startsWith(prefix) ? input.CertificateArn.slice(prefix.length) : '';
    const cert = /^[0-9a-f]+$/.test(serial) ? this.options.store.get(serial) : undefined;
    if (cert === undefined) throw pcaError('ResourceNotFoundException', `Could not find certificate ${input.CertificateArn}.`);
    const left = this.pollsLeft.get(cert.serialHex) ?? 0;
    if (left > 0) {
      if (left === 1) this.pollsLeft.delete(cert.serialHex);
      else this.pollsLeft.set(cert.serialHex, left - 1);
      throw pcaError('RequestInProgressException', `The request to issue certificate ${input.CertificateArn} is still in progress.`);
    }
    // For a root CA the chain is the root certificate itself.
    return { Certificate: cert.certificatePem, CertificateChain: this.ca.certificatePem };
  }

  getCertificateAuthorityCertificate(raw: unknown): Record<string, unknown> {
    const input = parseMembers(caOnlySchema, raw, 'ValidationException');
    this.checkCaArn(input.CertificateAuthorityArn);
    // No CertificateChain: it excludes the CA's own certificate and is absent for a root CA.
    return { Certificate: this.ca.certificatePem };
  }

  describeCertificateAuthority(raw: unknown): Record<string, unknown> {
    const input = parseMembers(caOnlySchema, raw, 'ValidationException');
    this.checkCaArn(input.CertificateAuthorityArn);
    const ca = this.ca;
    return {
      CertificateAuthority: {
        Arn: ca.caArn,
        OwnerAccount: ca.accountId,
        CreatedAt: epochSeconds(ca.createdAt),
        LastStateChangeAt: epochSeconds(ca.createdAt),
        Type: 'ROOT',
        Serial: ca.certificate.serialNumber.toLowerCase(),
        Status: 'ACTIVE',
        NotBefore: epochSeconds(ca.notBefore),
        NotAfter: epochSeconds(ca.notAfter),
        CertificateAuthorityConfiguration: {
          KeyAlgorithm: CA_KEY_ALGORITHM,
          SigningAlgorithm: CA_SIGNING_ALGORITHM,
          Subject: { ...CA_SUBJECT },
        },
        RevocationConfiguration: { CrlConfiguration: { Enabled: false }, OcspConfiguration: { Enabled: false } },
        KeyStorageSecurityStandard: 'FIPS_140_2_LEVEL_3_OR_HIGHER',
        UsageMode: 'GENERAL_PURPOSE',
      },
    };
  }

  revokeCertificate(raw: unknown): Record<string, unknown> {
    const input = parseMembers(revokeSchema, raw, 'ValidationException');
    this.checkCaArn(input.CertificateAuthorityArn);
    // The error name for a non-hex serial is UNCONFIRMED; InvalidRequestException is modelled for this operation.
    if (!HEX_SERIAL.test(input.CertificateSerial)) {
      throw pcaError('InvalidRequestException', `The certificate serial ${input.CertificateSerial} is not a hexadecimal serial number.`);
    }
    const cert = this.options.store.get(input.CertificateSerial);
    if (cert === undefined) throw pcaError('ResourceNotFoundException', `Could not find certificate with serial ${input.CertificateSerial} issued by ${this.ca.caArn}.`);
    if (!this.options.store.revoke(cert.serialHex, input.RevocationReason, this.options.now())) {
      throw pcaError('RequestAlreadyProcessedException', `The certificate with serial ${input.CertificateSerial} has already been revoked.`);
    }
    return {};
  }
}
