import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ACMPCAClient,
  DescribeCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  RevokeCertificateCommand,
  waitUntilCertificateIssued,
  type GetCertificateCommandOutput,
  type IssueCertificateCommandInput,
} from '@aws-sdk/client-acm-pca';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from '../../shared/x509';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startAcmPca, type AcmPcaEmulator } from '../../local/acm-pca/acm-pca-emulator';

const run = promisify(execFile);
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const template = (name: string): string => `arn:aws:acm-pca:::template/${name}/V1`;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

interface CsrOptions {
  subject?: string;
  uris?: string[];
}

async function makeCsr(options: CsrOptions = {}): Promise<{ pem: string; keyId: string }> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const uris = options.uris ?? [];
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: options.subject ?? 'CN=workload',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: uris.length > 0 ? [new SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))] : [],
  });
  const ski = await SubjectKeyIdentifierExtension.create(csr.publicKey);
  return { pem: csr.toString('pem'), keyId: ski.keyId };
}

const encode = (pem: string): Uint8Array => new TextEncoder().encode(pem);

describe('local ACM PCA emulator through @aws-sdk/client-acm-pca', () => {
  let dataDir: string;
  let pca: AcmPcaEmulator;
  let client: ACMPCAClient;
  let caCert: X509Certificate;

  const baseInput = (csrPem: string, overrides: Partial<IssueCertificateCommandInput> = {}): IssueCertificateCommandInput => ({
    CertificateAuthorityArn: pca.caArn,
    Csr: encode(csrPem),
    SigningAlgorithm: 'SHA256WITHECDSA',
    Validity: { Type: 'DAYS', Value: 1 },
    ...overrides,
  });

  const issue = async (input: IssueCertificateCommandInput): Promise<string> => {
    const out = await client.send(new IssueCertificateCommand(input));
    if (out.CertificateArn === undefined) throw new Error('no CertificateArn');
    return out.CertificateArn;
  };

  /** GetCertificate until it stops answering RequestInProgressException (the emulator answers it once). */
  const fetchIssued = async (certificateArn: string): Promise<GetCertificateCommandOutput> => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        return await client.send(new GetCertificateCommand({ CertificateAuthorityArn: pca.caArn, CertificateArn: certificateArn }));
      } catch (err) {
        if ((err as Error).name !== 'RequestInProgressException') throw err;
      }
    }
    throw new Error('still in progress');
  };

  const issueAndFetch = async (input: IssueCertificateCommandInput): Promise<X509Certificate> => {
    const arn = await issue(input);
    const out = await fetchIssued(arn);
    return new X509Certificate(out.Certificate ?? '');
  };

  const errorOf = async (promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> => {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected the call to fail');
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'trellis-acm-pca-'));
    pca = await startAcmPca({ dataDir, inProgressPolls: 1 });
    client = new ACMPCAClient({ endpoint: pca.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    caCert = new X509Certificate(pca.caCertificatePem);
  });

  afterAll(async () => {
    client?.destroy();
    await pca?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('issues a client-auth SVID whose only URI SAN is the API-passthrough one, with the exact validity asked for', async () => {
    const csr = await makeCsr({ uris: ['spiffe://evil.example/ns/attacker'] });
    const notBefore = nowSeconds() - 120;
    const notAfter = nowSeconds() + 3600;
    const arn = await issue(
      baseInput(csr.pem, {
        TemplateArn: template('EndEntityClientAuthCertificate_APIPassthrough'),
        ApiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: 'spiffe://example.org/ns/prod/sa/billing' }] } },
        Validity: { Type: 'ABSOLUTE', Value: notAfter },
        ValidityNotBefore: { Type: 'ABSOLUTE', Value: notBefore },
      }),
    );
    expect(arn).toMatch(new RegExp(`^${pca.caArn}/certificate/[0-9a-f]{32}$`));
    const cert = new X509Certificate((await fetchIssued(arn)).Certificate ?? '');

    const san = cert.getExtension(SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: 'url', value: 'spiffe://example.org/ns/prod/sa/billing' }]);
    expect(cert.getExtension(ExtendedKeyUsageExtension)?.usages).toEqual([CLIENT_AUTH]);
    const ku = cert.getExtension(KeyUsagesExtension);
    expect(ku?.usages).toBe(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment);
    expect(ku?.critical).toBe(true);
    expect(cert.getExtension(BasicConstraintsExtension)?.ca).toBe(false);
    expect(cert.notBefore.getTime()).toBe(notBefore * 1000);
    expect(cert.notAfter.getTime()).toBe(notAfter * 1000);
    expect(cert.subject).toBe('CN=workload');
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.getExtension(AuthorityKeyIdentifierExtension)?.keyId).toBe(caCert.getExtension(SubjectKeyIdentifierExtension)?.keyId);
    expect(cert.getExtension(SubjectKeyIdentifierExtension)?.keyId).toBe(csr.keyId);
    expect(cert.serialNumber.toLowerCase()).toBe(arn.split('/').pop());
    expect(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true })).toBe(true);
  });

  it('back-dates NotBefore by 60 minutes and counts DAYS from issuance by default', async () => {
    const csr = await makeCsr();
    const before = Math.floor(Date.now() / 1000) * 1000;
    const cert = await issueAndFetch(baseInput(csr.pem, { Validity: { Type: 'DAYS', Value: 2 } }));
    const after = Date.now();
    const hour = 3600_000;
    expect(cert.notBefore.getTime()).toBeGreaterThanOrEqual(before - hour);
    expect(cert.notBefore.getTime()).toBeLessThanOrEqual(after - hour);
    expect(cert.notAfter.getTime()).toBeGreaterThanOrEqual(before + 2 * 24 * hour);
    expect(cert.notAfter.getTime()).toBeLessThanOrEqual(after + 2 * 24 * hour);
  });

  it('reads END_DATE as UTCTime (YYMMDDHHMMSS) and as GeneralizedTime (YYYYMMDDHHMMSS)', async () => {
    const csr = await makeCsr();
    const end = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 24 * 3600_000);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const tail = `${pad(end.getUTCMonth() + 1)}${pad(end.getUTCDate())}${pad(end.getUTCHours())}${pad(end.getUTCMinutes())}${pad(end.getUTCSeconds())}`;
    const utcTime = Number(`${String(end.getUTCFullYear()).slice(2)}${tail}`);
    const generalizedTime = Number(`${end.getUTCFullYear()}${tail}`);
    for (const value of [utcTime, generalizedTime]) {
      const cert = await issueAndFetch(baseInput(csr.pem, { Validity: { Type: 'END_DATE', Value: value } }));
      expect(cert.notAfter.toISOString()).toBe(end.toISOString());
    }
  });

  it('enforces the validity rules: Value ≥ 1, NotAfter after NotBefore, ABSOLUTE-only ValidityNotBefore, within the CA', async () => {
    const csr = await makeCsr();
    const zeroDays = await errorOf(issue(baseInput(csr.pem, { Validity: { Type: 'DAYS', Value: 0 } })));
    expect(zeroDays.name).toBe('ValidationException');
    expect(zeroDays.message).toContain("'validity.value'");
    const nb = nowSeconds() - 60;
    const endsAtStart = await errorOf(issue(baseInput(csr.pem, { Validity: { Type: 'ABSOLUTE', Value: nb }, ValidityNotBefore: { Type: 'ABSOLUTE', Value: nb } })));
    expect(endsAtStart.name).toBe('InvalidArgsException');
    const relativeNotBefore = await errorOf(issue(baseInput(csr.pem, { ValidityNotBefore: { Type: 'DAYS', Value: 1 } })));
    expect(relativeNotBefore.name).toBe('InvalidArgsException');
    const pastCa = await errorOf(issue(baseInput(csr.pem, { Validity: { Type: 'YEARS', Value: 11 } })));
    expect(pastCa.name).toBe('InvalidArgsException');
    // One second is the minimum for ABSOLUTE.
    const oneSecond = await issueAndFetch(baseInput(csr.pem, { Validity: { Type: 'ABSOLUTE', Value: nb + 1 }, ValidityNotBefore: { Type: 'ABSOLUTE', Value: nb } }));
    expect(oneSecond.notAfter.getTime() - oneSecond.notBefore.getTime()).toBe(1000);
  });

  it('refuses unknown and CA templates, malformed template ARNs and RSA signing with the EC CA', async () => {
    const csr = await makeCsr();
    const unknown = await errorOf(issue(baseInput(csr.pem, { TemplateArn: template('NoSuchCertificate') })));
    expect(unknown.name).toBe('InvalidArgsException');
    expect(unknown.$metadata?.httpStatusCode).toBe(400);
    const caTemplate = await errorOf(issue(baseInput(csr.pem, { TemplateArn: template('SubordinateCACertificate_PathLen0') })));
    expect(caTemplate.name).toBe('InvalidArgsException');
    expect(caTemplate.message).toContain('does not support');
    const malformed = await errorOf(issue(baseInput(csr.pem, { TemplateArn: 'EndEntityCertificate/V1' })));
    expect(malformed.name).toBe('InvalidArnException');
    const rsa = await errorOf(issue(baseInput(csr.pem, { SigningAlgorithm: 'SHA256WITHRSA' })));
    expect(rsa.name).toBe('InvalidArgsException');
    const sha384 = await issueAndFetch(baseInput(csr.pem, { SigningAlgorithm: 'SHA384WITHECDSA' }));
    expect(sha384.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-384' } });
  });

  it('answers MalformedCSRException for garbage, a broken signature, and a CSR with neither subject nor SAN', async () => {
    const garbage = await errorOf(issue(baseInput('this is not a CSR')));
    expect(garbage.name).toBe('MalformedCSRException');
    expect(garbage.$metadata?.httpStatusCode).toBe(400);

    const csr = await makeCsr({ subject: 'CN=tampered' });
    const der = Buffer.from(csr.pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // inside the signature value
    const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect((await errorOf(issue(baseInput(tampered)))).name).toBe('MalformedCSRException');

    const empty = await makeCsr({ subject: '' });
    expect((await errorOf(issue(baseInput(empty.pem)))).name).toBe('MalformedCSRException');
  });

  it('validates required members (ValidationException) and the CA ARN (InvalidArnException, ResourceNotFoundException)', async () => {
    const csr = await makeCsr();
    const missing = await errorOf(issue(baseInput(csr.pem, { Validity: undefined })));
    expect(missing.name).toBe('ValidationException');
    expect(missing.message).toContain("Value at 'validity' failed to satisfy constraint: Member must not be null");
    const emptyCsr = await errorOf(issue(baseInput('')));
    expect([emptyCsr.name, emptyCsr.message]).toEqual(['ValidationException', "1 validation error detected: Value at 'csr' failed to satisfy constraint: Member must have length greater than or equal to 1"]);
    expect((await errorOf(issue(baseInput(`${csr.pem}${' '.repeat(32768)}`)))).name).toBe('ValidationException');
    const otherCa = 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/12345678-1234-1234-1234-123456789012';
    expect((await errorOf(issue(baseInput(csr.pem, { CertificateAuthorityArn: otherCa })))).name).toBe('ResourceNotFoundException');
    expect((await errorOf(issue(baseInput(csr.pem, { CertificateAuthorityArn: 'not-an-arn' })))).name).toBe('InvalidArnException');
    const unknownCert = await errorOf(client.send(new GetCertificateCommand({ CertificateAuthorityArn: pca.caArn, CertificateArn: `${pca.caArn}/certificate/${'ab'.repeat(16)}` })));
    expect(unknownCert.name).toBe('ResourceNotFoundException');
  });

  it('answers RequestInProgressException on the first GetCertificate, then the certificate and the CA chain', async () => {
    const csr = await makeCsr();
    const arn = await issue(baseInput(csr.pem));
    const get = () => client.send(new GetCertificateCommand({ CertificateAuthorityArn: pca.caArn, CertificateArn: arn }));
    const first = await errorOf(get());
    expect(first.name).toBe('RequestInProgressException');
    const second = await get();
    expect(second.Certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(second.CertificateChain).toBe(pca.caCertificatePem);
  });

  it('works with the SDK waiter waitUntilCertificateIssued', async () => {
    const csr = await makeCsr();
    const arn = await issue(baseInput(csr.pem));
    const result = await waitUntilCertificateIssued({ client, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { CertificateAuthorityArn: pca.caArn, CertificateArn: arn });
    expect(result.state).toBe('SUCCESS');
    const out = await client.send(new GetCertificateCommand({ CertificateAuthorityArn: pca.caArn, CertificateArn: arn }));
    expect(out.Certificate).toContain('BEGIN CERTIFICATE');
  });

  it('returns the same certificate for a repeated IdempotencyToken without issuing again', async () => {
    const csr = await makeCsr();
    const input = baseInput(csr.pem, { IdempotencyToken: 'svid-billing-1' });
    const issuedBefore = pca.stats().issued;
    const first = await issue(input);
    const second = await issue(input);
    expect(second).toBe(first);
    expect(pca.stats().issued).toBe(issuedBefore + 1);
    const otherToken = await issue({ ...input, IdempotencyToken: 'svid-billing-2' });
    expect(otherToken).not.toBe(first);
  });

  it('revokes by hex serial once, then answers RequestAlreadyProcessedException', async () => {
    const csr = await makeCsr();
    const arn = await issue(baseInput(csr.pem));
    const serial = arn.split('/').pop() ?? '';
    expect(pca.revokedAtCa(serial)).toBe(false);
    const revoke = (certificateSerial: string, reason = 'KEY_COMPROMISE') =>
      client.send(new RevokeCertificateCommand({ CertificateAuthorityArn: pca.caArn, CertificateSerial: certificateSerial, RevocationReason: reason as 'KEY_COMPROMISE' }));
    const badReason = await errorOf(revoke(serial, 'BORED'));
    expect(badReason.name).toBe('ValidationException');
    // The AWS docs show colon-separated serials as openssl prints them.
    await revoke(serial.match(/../g)?.join(':') ?? '');
    expect(pca.revokedAtCa(serial)).toBe(true);
    expect(pca.revokedCertificates().map((c) => [c.serialHex, c.revocation?.reason])).toContainEqual([serial, 'KEY_COMPROMISE']);
    expect((await errorOf(revoke(serial))).name).toBe('RequestAlreadyProcessedException');
    expect((await errorOf(revoke('7f'.repeat(16)))).name).toBe('ResourceNotFoundException');
  });

  it('throttles IssueCertificate when told to, and counts the calls', async () => {
    const csr = await makeCsr();
    pca.setFaults({ throttleFirst: 2 });
    onTestFinished(() => pca.setFaults({}));
    const before = pca.stats();
    for (let i = 0; i < 2; i += 1) {
      const err = await errorOf(issue(baseInput(csr.pem)));
      expect(err.name).toBe('ThrottlingException');
      expect(err.message).toBe('Rate exceeded');
    }
    await issue(baseInput(csr.pem));
    const after = pca.stats();
    expect(after.issueCalls - before.issueCalls).toBe(3);
    expect(after.throttled - before.throttled).toBe(2);
    expect(after.issued - before.issued).toBe(1);

    // Earlier tests' calls are still inside the 1 s window: start from a clean slate.
    pca.resetStats();
    pca.setFaults({ maxIssuePerSecond: 2 });
    const results = await Promise.allSettled([0, 1, 2].map(() => issue(baseInput(csr.pem))));
    const throttled = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === 'ThrottlingException');
    expect(throttled).toHaveLength(1);
    expect(pca.stats()).toMatchObject({ issueCalls: 3, issued: 2, throttled: 1, maxObservedIssuePerSecond: 3 });
  });

  it('describes the CA and returns its certificate without a chain', async () => {
    const caOut = await client.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: pca.caArn }));
    expect(caOut.Certificate).toBe(pca.caCertificatePem);
    expect(caOut.CertificateChain).toBeUndefined();
    const { CertificateAuthority: ca } = await client.send(new DescribeCertificateAuthorityCommand({ CertificateAuthorityArn: pca.caArn }));
    expect(ca).toMatchObject({
      Arn: pca.caArn,
      OwnerAccount: '111122223333',
      Type: 'ROOT',
      Status: 'ACTIVE',
      UsageMode: 'GENERAL_PURPOSE',
      KeyStorageSecurityStandard: 'FIPS_140_2_LEVEL_3_OR_HIGHER',
      CertificateAuthorityConfiguration: {
        KeyAlgorithm: 'EC_prime256v1',
        SigningAlgorithm: 'SHA256WITHECDSA',
        Subject: { CommonName: 'Trellis Local Root CA', OrganizationalUnit: 'trellis-local', Organization: 'Trellis' },
      },
    });
    expect(ca?.CreatedAt).toBeInstanceOf(Date);
    expect(ca?.NotBefore?.getTime()).toBe(caCert.notBefore.getTime());
    expect(ca?.NotAfter?.getTime()).toBe(caCert.notAfter.getTime());
  });

  it('encodes errors as awsJson1_1 and refuses unknown operations', async () => {
    const post = (target: string, body: unknown) =>
      fetch(pca.endpoint, { method: 'POST', headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target }, body: JSON.stringify(body) });
    const unknown = await post('ACMPrivateCA.ListCertificateAuthorities', {});
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(unknown.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });

    const notFound = await post('ACMPrivateCA.GetCertificateAuthorityCertificate', { CertificateAuthorityArn: `${pca.caArn}0` });
    expect(notFound.status).toBe(400);
    expect(notFound.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await notFound.json()).toEqual({ __type: 'ResourceNotFoundException', message: `Could not find certificate authority ${pca.caArn}0.` });
  });

  it('issues certificates that openssl verify accepts against the CA certificate', async () => {
    const csr = await makeCsr({ uris: ['spiffe://example.org/ns/prod/sa/rates'] });
    const cert = await issueAndFetch(baseInput(csr.pem, { TemplateArn: template('EndEntityClientAuthCertificate') }));
    const dir = await mkdtemp(join(tmpdir(), 'trellis-openssl-'));
    try {
      await writeFile(join(dir, 'ca.pem'), pca.caCertificatePem);
      await writeFile(join(dir, 'leaf.pem'), cert.toString('pem'));
      const { stdout } = await run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
      expect(stdout.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the CA, its ARN and earlier certificates across a restart with the same dataDir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-acm-pca-restart-'));
    try {
      const first = await startAcmPca({ dataDir: dir, inProgressPolls: 0 });
      const firstClient = new ACMPCAClient({ endpoint: first.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      const csr = await makeCsr();
      const issued = await firstClient.send(new IssueCertificateCommand({ ...baseInput(csr.pem), CertificateAuthorityArn: first.caArn }));
      firstClient.destroy();
      await first.stop();

      const second = await startAcmPca({ dataDir: dir });
      const secondClient = new ACMPCAClient({ endpoint: second.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      try {
        expect(second.caArn).toBe(first.caArn);
        expect(second.caCertificatePem).toBe(first.caCertificatePem);
        const again = await secondClient.send(new GetCertificateCommand({ CertificateAuthorityArn: second.caArn, CertificateArn: issued.CertificateArn }));
        expect(new X509Certificate(again.Certificate ?? '').serialNumber.toLowerCase()).toBe(issued.CertificateArn?.split('/').pop());
        const serial = issued.CertificateArn?.split('/').pop() ?? '';
        await secondClient.send(new RevokeCertificateCommand({ CertificateAuthorityArn: second.caArn, CertificateSerial: serial, RevocationReason: 'SUPERSEDED' }));
        expect(second.revokedAtCa(serial)).toBe(true);
      } finally {
        secondClient.destroy();
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
