/**
 * The narrow seam to ACM Private CA: only the five calls Trellis makes, in Trellis's terms (PEM
 * text, Dates, hex serials), behind an interface the issuance use cases depend on — the shape of
 * SPIRE's aws_pca UpstreamAuthority plugin, which wraps its client the same way. `AcmPcaAdapter`
 * is the one implementation, over `@aws-sdk/client-acm-pca`; locally the same adapter talks to the
 * ACM PCA stand-in through AWS_ENDPOINT_URL_ACM_PCA.
 */
import {
  DescribeCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  RevokeCertificateCommand,
  type ACMPCAClient,
  type ApiPassthrough,
  type RevocationReason,
  type SigningAlgorithm,
} from '@aws-sdk/client-acm-pca';

/**
 * The template every X.509-SVID is issued with, chosen knowingly (docs/aws-behaviour.md, "ACM Private
 * CA › Templates"):
 * - an *_APIPassthrough* template, so the SPIFFE ID (URI SAN), the DNS names and the subject come
 *   from the API, where Trellis sets them from the registration entry; an API SAN replaces the CSR's.
 * - not *_CSRPassthrough / *_APICSRPassthrough: those copy further CSR extensions into the certificate,
 *   which would let a workload choose some of its certificate's contents.
 * - EndEntityCertificate (not ...ClientAuth/...ServerAuth): its fixed EKU is serverAuth AND clientAuth,
 *   which the X509-SVID rules require when an EKU is present (an SVID serves both TLS sides); KU is
 *   fixed critical digitalSignature + keyEncipherment (the SVID rules allow keyEncipherment) and
 *   CA:FALSE, so no KU/EKU/basic constraints come from the request at all.
 * - not BlankEndEntityCertificate_APIPassthrough: it would make Trellis responsible for supplying
 *   every usage bit correctly, for no gain.
 * The issuer role's IAM policy allows IssueCertificate with this template only (acm-pca:TemplateArn).
 */
export const SVID_TEMPLATE_NAME = 'EndEntityCertificate_APIPassthrough/V1';

export const svidTemplateArn = (partition = 'aws'): string => `arn:${partition}:acm-pca:::template/${SVID_TEMPLATE_NAME}`;

/** The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`). */
export const partitionOf = (arn: string): string => arn.split(':')[1] ?? 'aws';

export interface IssueCertificateRequest {
  csrPem: string;
  signingAlgorithm: SigningAlgorithm;
  templateArn: string;
  apiPassthrough: ApiPassthrough;
  /** Whole seconds; sent as ValidityNotBefore ABSOLUTE. */
  notBefore: Date;
  /** Whole seconds; sent as Validity ABSOLUTE. */
  notAfter: Date;
  /** 1–36 characters. */
  idempotencyToken: string;
}

export interface CaDescription {
  status: string;
  /** The CA's configured signing algorithm; its family always matches the CA key. */
  signingAlgorithm: SigningAlgorithm;
  keyAlgorithm: string;
  notAfter?: Date;
}

export interface PemWithChain {
  certificatePem: string;
  /** PEM of the certificates above it (empty for a root CA's own certificate). */
  chainPem: string;
}

export interface PcaClient {
  readonly caArn: string;
  describeCa(): Promise<CaDescription>;
  caCertificate(): Promise<PemWithChain>;
  /** Returns the certificate ARN; the certificate itself comes from getCertificate, asynchronously. */
  issueCertificate(request: IssueCertificateRequest): Promise<string>;
  /** Throws RequestInProgressException (classify: 'in-progress') until the certificate is ready. */
  getCertificate(certificateArn: string): Promise<PemWithChain>;
  revokeCertificate(serialHex: string, reason: RevocationReason): Promise<void>;
}

const epochSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);

export class AcmPcaAdapter implements PcaClient {
  constructor(
    private readonly client: ACMPCAClient,
    readonly caArn: string,
  ) {}

  async describeCa(): Promise<CaDescription> {
    const out = await this.client.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: this.caArn }));
    const ca = out.CertificateAuthority;
    const signingAlgorithm = ca?.CertificateAuthorityConfiguration?.SigningAlgorithm;
    if (ca === undefined || signingAlgorithm === undefined) throw new Error(`DescribeCertificateAuthority returned no configuration for ${this.caArn}`);
    return {
      status: ca.Status ?? 'UNKNOWN',
      signingAlgorithm,
      keyAlgorithm: ca.CertificateAuthorityConfiguration?.KeyAlgorithm ?? 'UNKNOWN',
      ...(ca.NotAfter ? { notAfter: ca.NotAfter } : {}),
    };
  }

  async caCertificate(): Promise<PemWithChain> {
    const out = await this.client.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: this.caArn }));
    if (!out.Certificate) throw new Error(`GetCertificateAuthorityCertificate returned no certificate for ${this.caArn}`);
    return { certificatePem: out.Certificate, chainPem: out.CertificateChain ?? '' };
  }

  async issueCertificate(request: IssueCertificateRequest): Promise<string> {
    const out = await this.client.send(
      new IssueCertificateCommand({
        CertificateAuthorityArn: this.caArn,
        // The SDK base64-encodes this blob on the wire (docs/aws-behaviour.md, "ACM Private CA › PCA wire protocol").
        Csr: new TextEncoder().encode(request.csrPem),
        SigningAlgorithm: request.signingAlgorithm,
        TemplateArn: request.templateArn,
        ApiPassthrough: request.apiPassthrough,
        ValidityNotBefore: { Type: 'ABSOLUTE', Value: epochSeconds(request.notBefore) },
        Validity: { Type: 'ABSOLUTE', Value: epochSeconds(request.notAfter) },
        IdempotencyToken: request.idempotencyToken,
      }),
    );
    if (!out.CertificateArn) throw new Error('IssueCertificate returned no CertificateArn');
    return out.CertificateArn;
  }

  async getCertificate(certificateArn: string): Promise<PemWithChain> {
    const out = await this.client.send(new GetCertificateCommand({ CertificateAuthorityArn: this.caArn, CertificateArn: certificateArn }));
    if (!out.Certificate) throw new Error(`GetCertificate returned no certificate for ${certificateArn}`);
    return { certificatePem: out.Certificate, chainPem: out.CertificateChain ?? '' };
  }

  async revokeCertificate(serialHex: string, reason: RevocationReason): Promise<void> {
    await this.client.send(new RevokeCertificateCommand({ CertificateAuthorityArn: this.caArn, CertificateSerial: serialHex, RevocationReason: reason }));
  }
}

/** How a failed ACM PCA call should be handled. */
export type PcaErrorKind =
  /** GetCertificate before the certificate is ready: poll again. */
  | 'in-progress'
  /** Rate exceeded: back off and retry (with a fresh rate-limiter slot). */
  | 'throttled'
  /** Server-side or network failure: retry a bounded number of times. */
  | 'transient'
  /** RevokeCertificate on a certificate already revoked. */
  | 'already-done'
  | 'not-found'
  /** The request itself is wrong (bad CSR, arguments, CA state, permissions): retrying cannot help. */
  | 'rejected';

/**
 * ThrottlingException is not modelled for ACM PCA: the SDK raises a generic service exception whose
 * name is the wire error type (docs/aws-behaviour.md, "ACM Private CA › PCA errors and throttling").
 * The names below are the throttling codes the SDK's own retry strategy recognises (@smithy/service-error-classification), listed here because
 * the ACM PCA client runs with maxAttempts 1 (see shared/aws/clients.ts) and that package is not a
 * direct dependency.
 */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
/** RequestFailedException: "the request has failed for an unspecified reason"; the others are the service's transient conditions. */
const TRANSIENT = new Set(['RequestFailedException', 'ConcurrentModificationException', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export function pcaErrorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error === 'object' && error !== null && typeof (error as SdkErrorShape).name === 'string' ? String((error as SdkErrorShape).name) : 'Error';
}

export function pcaErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function classifyPcaError(error: unknown): PcaErrorKind {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = pcaErrorName(error);
  if (name === 'RequestInProgressException') return 'in-progress';
  if (name === 'RequestAlreadyProcessedException') return 'already-done';
  if (name === 'ResourceNotFoundException') return 'not-found';
  if (THROTTLING.has(name) || e.$metadata?.httpStatusCode === 429) return 'throttled';
  if (TRANSIENT.has(name)) return 'transient';
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return 'transient';
  if (e.$fault === 'server' || (e.$metadata?.httpStatusCode ?? 0) >= 500) return 'transient';
  // No HTTP response at all (connection refused, socket hang up): the call never reached the service.
  if (error instanceof Error && e.$metadata === undefined && e.$fault === undefined) return 'transient';
  return 'rejected';
}

/** The hex serial at the end of a certificate ARN (`<CA ARN>/certificate/<hex serial>`), if it has one. */
export function serialFromCertificateArn(certificateArn: string): string | undefined {
  const match = /\/certificate\/([0-9a-fA-F]+)$/.exec(certificateArn);
  return match?.[1]?.toLowerCase();
}

/**
 * The CA's settings and certificate, read once and kept for `ttlMs` (they change only when the CA
 * is replaced or renewed): a cold start costs one DescribeCertificateAuthority and one
 * GetCertificateAuthorityCertificate, not every SVID.
 */
export class CaCache {
  private description: { value: Promise<CaDescription>; at: number } | undefined;
  private certificate: { value: Promise<PemWithChain>; at: number } | undefined;

  constructor(
    readonly pca: PcaClient,
    private readonly ttlMs = 5 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  describe(): Promise<CaDescription> {
    if (this.description === undefined || this.clock() - this.description.at > this.ttlMs) {
      const value = this.pca.describeCa();
      this.description = { value, at: this.clock() };
      value.catch(() => {
        if (this.description?.value === value) this.description = undefined;
      });
    }
    return this.description.value;
  }

  /** The trust bundle as PEM: the CA certificate followed by its own chain (none for a root CA). */
  async bundlePem(): Promise<string> {
    if (this.certificate === undefined || this.clock() - this.certificate.at > this.ttlMs) {
      const value = this.pca.caCertificate();
      this.certificate = { value, at: this.clock() };
      value.catch(() => {
        if (this.certificate?.value === value) this.certificate = undefined;
      });
    }
    const { certificatePem, chainPem } = await this.certificate.value;
    return joinPem(certificatePem, chainPem);
  }
}

/** Concatenates PEM texts, one newline between blocks, ending in a newline. */
export function joinPem(...pems: string[]): string {
  return pems
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => `${p}\n`)
    .join('');
}
