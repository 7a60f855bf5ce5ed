/**
 * Local stand-in for AWS Private CA (ACM PCA) speaking its wire protocol, awsJson1_1
 * (docs/aws-behaviour.md, "ACM Private CA › PCA wire protocol" and "› PCA errors and throttling"): `POST /` with `X-Amz-Target: ACMPrivateCA.<Operation>`, JSON in and
 * out, errors as HTTP 400 with `{"__type","message"}` plus `x-amzn-ErrorType`. Point
 * `@aws-sdk/client-acm-pca` at `endpoint` and it works unchanged. SigV4 signatures are not checked.
 *
 * Beyond the AWS API, `GET /_local/certificates` lists every certificate it issued (serial, URI
 * SANs, validity, revocation), optionally filtered by `?uri=`. Real ACM PCA has no such call (only
 * audit reports, delivered to S3, and CloudTrail); the local issuer uses it to find a certificate
 * issued for a request but never recorded (docs/aws-behaviour.md, "ACM Private CA › Finding issued
 * certificates").
 */
import { closeServer, listen, readBody } from '../http-server';
import { randomUUID } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { OPERATIONS, AcmPcaService, type AcmPcaOperation, type IdempotencyMismatchPolicy } from './acm-pca-service';
import { CertificateStore, type StoredCertificate } from './certificate-store';
import { IssueTraffic, type AcmPcaFaults, type AcmPcaStats } from './issue-traffic';
import { LocalCa } from './local-ca';
import { PcaError } from './pca-error';

export type { AcmPcaFaults, AcmPcaStats } from './issue-traffic';

export interface AcmPcaEmulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where the CA key, certificate, ARN and certificate log live; reused across restarts. */
  dataDir: string;
  /** Default us-east-1 (only used when the CA is first created). */
  region?: string;
  /** Default 111122223333 (only used when the CA is first created). */
  accountId?: string;
  /** GetCertificate calls per certificate that answer RequestInProgressException first; default 1. */
  inProgressPolls?: number;
  faults?: AcmPcaFaults;
  /** JSON lines on stderr, one per request. Default off. */
  log?: boolean;
  /** Same IdempotencyToken with different parameters: see IdempotencyMismatchPolicy. Default 'return-original'. */
  idempotencyMismatch?: IdempotencyMismatchPolicy;
  /** Clock for issuance times and the idempotency window (tests). */
  now?: () => Date;
  /**
   * CRL publication, as a CA whose RevocationConfiguration enables a CRL to an S3 bucket: after each
   * revocation a complete CRL (DER, signed with the CA key) is written with `write` under
   * `crl/<CA id>.crl` and announced to the CRL event sink ("ACM Private CA CRL Generation").
   */
  crl?: { bucket: string; write: (key: string, der: Uint8Array) => Promise<void> };
}

/** The event ACM Private CA sends EventBridge when it generated a CRL (docs/aws-behaviour.md, "ACM Private CA › CRL publication"). */
export interface CrlGenerationEvent {
  source: 'aws.acm-pca';
  detailType: 'ACM Private CA CRL Generation';
  /** The CA's ARN, then the CRL object's S3 ARN. */
  resources: string[];
  detail: { result: 'success' | 'failure' };
}
export const CRL_GENERATION_DETAIL_TYPE = 'ACM Private CA CRL Generation';

export interface AcmPcaEmulator {
  /** e.g. http://127.0.0.1:41234: the `endpoint` for ACMPCAClient. */
  endpoint: string;
  caArn: string;
  caCertificatePem: string;
  /** The signing CA behind the emulator. */
  ca: LocalCa;
  /** Replaces the fault configuration (`setFaults({})` clears it). */
  setFaults(faults: AcmPcaFaults): void;
  stats(): AcmPcaStats;
  resetStats(): void;
  /**
   * The CA's own record, for tests inspecting the CA. No other stand-in asks it: the local Roles
   * Anywhere knows revocations only from imported CRLs, the local data plane only from the auth policy.
   */
  revokedAtCa(serialHex: string): boolean;
  revokedCertificates(): StoredCertificate[];
  /** Where each generated CRL event goes (the local default bus); undefined stops sending. */
  setCrlEventSink(sink: ((event: CrlGenerationEvent) => Promise<void>) | undefined): void;
  /** Generates and publishes the CRL now (also done after every revocation); the S3 key, or undefined without `crl`. */
  publishCrl(): Promise<string | undefined>;
  /** Every certificate issued (the listing GET /_local/certificates serves). */
  issuedCertificates(): IssuedListing[];
  stop(): Promise<void>;
}

export interface IssuedListing {
  serialHex: string;
  uris: string[];
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  revoked: boolean;
}

/** What the listing says of a stored certificate (parsed with node:crypto, only when listed). */
function listing(cert: StoredCertificate): IssuedListing {
  const x509 = new X509Certificate(cert.certificatePem);
  const uris = (x509.subjectAltName ?? '')
    .split(', ')
    .filter((name) => name.startsWith('URI:'))
    .map((name) => name.slice(4));
  return {
    serialHex: cert.serialHex,
    uris,
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    issuedAt: cert.issuedAt.toISOString(),
    revoked: cert.revocation !== undefined,
  };
}

const TARGET_PREFIX = 'ACMPrivateCA.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 1024 * 1024;
export const CERTIFICATE_LOG_FILE = 'certificates.jsonl';

const isOperation = (name: string): name is AcmPcaOperation => (OPERATIONS as readonly string[]).includes(name);


function send(res: ServerResponse, status: number, body: unknown, requestId: string, errorType?: string): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
  };
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
  res.writeHead(status, headers);
  res.end(text);
}

export async function startAcmPca(options: AcmPcaEmulatorOptions): Promise<AcmPcaEmulator> {
  const now = options.now ?? (() => new Date());
  const ca = await LocalCa.load(options.dataDir, { region: options.region, accountId: options.accountId, now });
  const store = await CertificateStore.open(join(options.dataDir, CERTIFICATE_LOG_FILE));
  const traffic = new IssueTraffic(options.faults ?? {});
  const service = new AcmPcaService({
    ca,
    store,
    traffic,
    inProgressPolls: options.inProgressPolls ?? 1,
    idempotencyMismatch: options.idempotencyMismatch ?? 'return-original',
    now,
  });

  const log = (entry: Record<string, unknown>): void => {
    if (options.log === true) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'acm-pca-emulator', ...entry })}\n`);
  };

  // CRLs: one generation at a time, numbered from the clock (monotonic across restarts).
  let crlSink: ((event: CrlGenerationEvent) => Promise<void>) | undefined;
  let crlChain: Promise<unknown> = Promise.resolve();
  let lastCrlNumber = 0;
  const crlKey = `crl/${ca.caArn.slice(ca.caArn.lastIndexOf('/') + 1)}.crl`;
  const generateCrl = async (): Promise<string | undefined> => {
    const crl = options.crl;
    if (crl === undefined) return undefined;
    lastCrlNumber = Math.max(lastCrlNumber + 1, Math.floor(now().getTime() / 1000));
    const revocations = store.revoked().flatMap((c) => (c.revocation === undefined ? [] : [{ serialHex: c.serialHex, reason: c.revocation.reason, revokedAt: c.revocation.revokedAt }]));
    const der = await ca.crl(revocations, lastCrlNumber);
    await crl.write(crlKey, der);
    log({ level: 'INFO', message: 'CRL published', key: crlKey, entries: revocations.length, crlNumber: lastCrlNumber });
    const partition = ca.caArn.split(':')[1] ?? 'aws';
    await crlSink?.({ source: 'aws.acm-pca', detailType: CRL_GENERATION_DETAIL_TYPE, resources: [ca.caArn, `arn:${partition}:s3:::${crl.bucket}/${crlKey}`], detail: { result: 'success' } });
    return crlKey;
  };
  const publishCrl = (): Promise<string | undefined> => {
    const next = crlChain.then(generateCrl, generateCrl);
    crlChain = next.catch((error: unknown) => log({ level: 'ERROR', message: 'CRL generation failed', error: String(error) }));
    return next;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'GET' && url.pathname === '/_local/certificates') {
      const uri = url.searchParams.get('uri');
      const all = store.all().map(listing);
      send(res, 200, uri === null ? all : all.filter((c) => c.uris.includes(uri)), requestId);
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    try {
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) throw new PcaError('SerializationException', 'Request body is too large.');
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/' || !target.startsWith(TARGET_PREFIX) || !isOperation(operation)) {
        throw new PcaError('UnknownOperationException', `Operation ${target || '(no X-Amz-Target)'} is not supported by the local ACM PCA emulator.`);
      }
      let input: unknown = {};
      if (body.length > 0) {
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          throw new PcaError('SerializationException', 'Request body is not valid JSON.');
        }
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new PcaError('SerializationException', 'Request body must be a JSON object.');
      const output = await service.handle(operation, input);
      send(res, 200, output, requestId);
      // ACM Private CA updates its CRL some time after a revocation (about 30 minutes); locally at once.
      if (operation === 'RevokeCertificate') void publishCrl().catch(() => {});
      log({ level: 'INFO', operation, status: 200, requestId, ms: Math.round(performance.now() - started) });
    } catch (err) {
      const error = err instanceof PcaError ? err : new PcaError('InternalFailure', `Internal error in the local ACM PCA emulator: ${String(err)}`, 500);
      send(res, error.status, { __type: error.errorName, message: error.message }, requestId, error.errorName);
      log({ level: error.status >= 500 ? 'ERROR' : 'INFO', operation, status: error.status, errorType: error.errorName, message: error.message, requestId, ms: Math.round(performance.now() - started) });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  const { port, urlHost } = await listen(server, options.port, options.host);
  const endpoint = `http://${urlHost}:${port}`;
  log({ level: 'INFO', message: 'listening', endpoint, caArn: ca.caArn });

  return {
    endpoint,
    caArn: ca.caArn,
    caCertificatePem: ca.certificatePem,
    ca,
    setFaults: (faults) => traffic.setFaults(faults),
    stats: () => traffic.stats(),
    resetStats: () => traffic.resetStats(),
    revokedAtCa: (serialHex) => store.revokedAtCa(serialHex),
    revokedCertificates: () => store.revoked(),
    setCrlEventSink: (sink) => {
      crlSink = sink;
    },
    publishCrl,
    issuedCertificates: () => store.all().map(listing),
    stop: async () => {
      await closeServer(server);
      await store.flush();
    },
  };
}
