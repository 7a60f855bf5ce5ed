import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from '../../shared/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmPcaService } from '../../local/acm-pca/acm-pca-service';
import { canonicalSerial, CertificateStore } from '../../local/acm-pca/certificate-store';
import { IssueTraffic } from '../../local/acm-pca/issue-traffic';
import { CA_FILES, LocalCa, type IssueRequest } from '../../local/acm-pca/local-ca';
import { PcaError } from '../../local/acm-pca/pca-error';
import { resolveTemplate, supportedTemplateNames } from '../../local/acm-pca/templates';
import { addMonthsUtc, parseEndDate, resolveValidity } from '../../local/acm-pca/validity';

const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', codeSigning: '1.3.6.1.5.5.7.3.3', ocspSigning: '1.3.6.1.5.5.7.3.9', emailProtection: '1.3.6.1.5.5.7.3.4' };
const SIGN_AND_ENCIPHER = KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment;
const CUSTOM_OID = '1.3.6.1.4.1.55555.1';

async function makeCsr(options: { subject?: string; uris?: string[]; extra?: Extension[] } = {}): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const uris = options.uris ?? [];
  const extensions = [...(uris.length > 0 ? [new SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))] : []), ...(options.extra ?? [])];
  const csr = await Pkcs10CertificateRequestGenerator.create({ name: options.subject ?? 'CN=workload', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, extensions });
  return csr.toString('pem');
}

const pcaErrorOf = async (promise: Promise<unknown>): Promise<PcaError> => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PcaError) return err;
    throw err;
  }
  throw new Error('expected a PcaError');
};

const errorNameOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).name;
  }
  return 'no error';
};

const uris = (cert: X509Certificate): string[] => (cert.getExtension(SubjectAlternativeNameExtension)?.names.toJSON() ?? []).filter((n) => n.type === 'url').map((n) => n.value);

describe('LocalCa', () => {
  let dataDir: string;
  let ca: LocalCa;
  let csrPem: string;

  const issue = async (request: Partial<IssueRequest>): Promise<X509Certificate> => {
    const issued = await ca.issue({ csrPem, validity: { Type: 'DAYS', Value: 1 }, ...request });
    return new X509Certificate(issued.certificatePem);
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'trellis-local-ca-'));
    ca = await LocalCa.load(dataDir);
    csrPem = await makeCsr({ uris: ['spiffe://csr.example/from-csr'] });
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  describe('the root CA', () => {
    it('is a self-signed EC P-256 CA with critical CA:TRUE and keyCertSign+cRLSign, an SKI and an OU, valid 10 years', async () => {
      const cert = ca.certificate;
      expect(cert.subject).toBe('O=Trellis, OU=trellis-local, CN=Trellis Local Root CA');
      expect(cert.issuer).toBe(cert.subject);
      expect(await cert.verify({ signatureOnly: true })).toBe(true);
      expect(cert.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
      const bc = cert.getExtension(BasicConstraintsExtension);
      expect([bc?.ca, bc?.critical]).toEqual([true, true]);
      const ku = cert.getExtension(KeyUsagesExtension);
      expect([ku?.usages, ku?.critical]).toEqual([KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true]);
      expect(cert.getExtension(SubjectKeyIdentifierExtension)?.keyId).toBe(ca.keyId);
      expect(cert.notAfter.getUTCFullYear() - ca.createdAt.getUTCFullYear()).toBe(10);
      // Back-dated 60 minutes like AWS-issued certificates (X.509 times are whole seconds).
      expect(Math.floor(ca.createdAt.getTime() / 1000) * 1000 - cert.notBefore.getTime()).toBe(3600_000);
      expect(ca.caArn).toMatch(/^arn:aws:acm-pca:us-east-1:111122223333:certificate-authority\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('keeps its key (mode 0600), certificate and ARN in dataDir and loads the same CA again', async () => {
      expect((await stat(join(dataDir, CA_FILES.key))).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(join(dataDir, CA_FILES.key), 'utf8'))).toMatchObject({ kty: 'EC', crv: 'P-256' });
      expect(await readFile(join(dataDir, CA_FILES.certificate), 'utf8')).toBe(ca.certificatePem);
      expect(JSON.parse(await readFile(join(dataDir, CA_FILES.metadata), 'utf8'))).toMatchObject({ caArn: ca.caArn });
      const again = await LocalCa.load(dataDir);
      expect([again.caArn, again.certificatePem]).toEqual([ca.caArn, ca.certificatePem]);
      // The reloaded key signs certificates that chain to the same CA certificate.
      const cert = new X509Certificate((await again.issue({ csrPem, validity: { Type: 'DAYS', Value: 1 } })).certificatePem);
      expect(await cert.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true })).toBe(true);
    });

    it('refuses to reuse a dataDir created for another region', async () => {
      await expect(LocalCa.load(dataDir, { region: 'eu-west-1' })).rejects.toThrow(/region us-east-1/);
    });
  });

  describe('issue', () => {
    it('uses random positive 16-byte serials that are never reused', async () => {
      const serials = new Set<string>();
      for (let i = 0; i < 40; i += 1) {
        const { serialHex, certificatePem } = await ca.issue({ csrPem, validity: { Type: 'DAYS', Value: 1 } });
        expect(serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
        expect(serialHex).not.toMatch(/^00/);
        expect(new X509Certificate(certificatePem).serialNumber.toLowerCase()).toBe(serialHex);
        serials.add(serialHex);
      }
      expect(serials.size).toBe(40);
    });

    it.each([
      ['EndEntityCertificate/V1', SIGN_AND_ENCIPHER, [EKU.serverAuth, EKU.clientAuth], false],
      ['EndEntityClientAuthCertificate/V1', SIGN_AND_ENCIPHER, [EKU.clientAuth], false],
      ['EndEntityServerAuthCertificate_CSRPassthrough/V1', SIGN_AND_ENCIPHER, [EKU.serverAuth], false],
      ['CodeSigningCertificate/V1', KeyUsageFlags.digitalSignature, [EKU.codeSigning], true],
      ['OCSPSigningCertificate_APIPassthrough/V1', KeyUsageFlags.digitalSignature, [EKU.ocspSigning], true],
    ])('%s fixes critical KU %i, EKU %j and CA:FALSE', async (template, ku, eku, ekuCritical) => {
      const cert = await issue({ template, apiPassthrough: { Extensions: { ExtendedKeyUsage: [{ ExtendedKeyUsageType: 'EMAIL_PROTECTION' }], KeyUsage: { KeyAgreement: true } } } });
      const kuExt = cert.getExtension(KeyUsagesExtension);
      expect([kuExt?.usages, kuExt?.critical]).toEqual([ku, true]);
      const ekuExt = cert.getExtension(ExtendedKeyUsageExtension);
      expect([ekuExt?.usages, ekuExt?.critical]).toEqual([eku, ekuCritical]);
      expect(cert.getExtension(BasicConstraintsExtension)?.ca).toBe(false);
    });

    it('defaults to EndEntityCertificate/V1 and accepts template ARNs', async () => {
      expect((await ca.issue({ csrPem, validity: { Type: 'DAYS', Value: 1 } })).template).toBe('EndEntityCertificate/V1');
      const viaArn = await ca.issue({ csrPem, validity: { Type: 'DAYS', Value: 1 }, template: 'arn:aws:acm-pca:::template/BlankEndEntityCertificate_APIPassthrough/V1' });
      expect(viaArn.template).toBe('BlankEndEntityCertificate_APIPassthrough/V1');
    });

    it('ignores ApiPassthrough with a template that does not honour it: SAN and subject stay those of the CSR', async () => {
      const cert = await issue({
        template: 'EndEntityClientAuthCertificate/V1',
        apiPassthrough: { Subject: { CommonName: 'api' }, Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: 'spiffe://api.example/x' }] } },
      });
      expect(uris(cert)).toEqual(['spiffe://csr.example/from-csr']);
      expect(cert.subject).toBe('CN=workload');
    });

    it('replaces the CSR SAN and subject with the API ones for an API-passthrough template, with every supported name type', async () => {
      const cert = await issue({
        template: 'EndEntityCertificate_APIPassthrough/V1',
        apiPassthrough: {
          Subject: { Country: 'US', Organization: 'Example', OrganizationalUnit: 'payments', CommonName: 'billing' },
          Extensions: {
            SubjectAlternativeNames: [
              { UniformResourceIdentifier: 'spiffe://example.org/billing' },
              { DnsName: 'billing.example.org' },
              { IpAddress: '10.1.2.3' },
              { IpAddress: '2001:db8::7' },
              { Rfc822Name: 'ops@example.org' },
            ],
          },
        },
      });
      expect(cert.subject).toBe('C=US, O=Example, OU=payments, CN=billing');
      expect(cert.getExtension(SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
        { type: 'url', value: 'spiffe://example.org/billing' },
        { type: 'dns', value: 'billing.example.org' },
        { type: 'ip', value: '10.1.2.3' },
        { type: 'ip', value: '2001:db8::7' },
        { type: 'email', value: 'ops@example.org' },
      ]);
    });

    it('takes KU and EKU from the API for BlankEndEntityCertificate_APIPassthrough and from the CSR for _CSRPassthrough', async () => {
      const fromApi = await issue({
        template: 'BlankEndEntityCertificate_APIPassthrough/V1',
        apiPassthrough: {
          Extensions: {
            KeyUsage: { DigitalSignature: true, KeyAgreement: true },
            ExtendedKeyUsage: [{ ExtendedKeyUsageType: 'CLIENT_AUTH' }, { ExtendedKeyUsageObjectIdentifier: '1.3.6.1.5.5.7.3.4' }],
          },
        },
      });
      expect(fromApi.getExtension(KeyUsagesExtension)?.usages).toBe(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement);
      expect(fromApi.getExtension(ExtendedKeyUsageExtension)?.usages).toEqual([EKU.clientAuth, EKU.emailProtection]);

      const csrWithUsages = await makeCsr({ extra: [new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true), new ExtendedKeyUsageExtension([EKU.serverAuth])] });
      const fromCsr = new X509Certificate((await ca.issue({ csrPem: csrWithUsages, template: 'BlankEndEntityCertificate_CSRPassthrough/V1', validity: { Type: 'DAYS', Value: 1 } })).certificatePem);
      expect(fromCsr.getExtension(KeyUsagesExtension)?.usages).toBe(KeyUsageFlags.digitalSignature);
      expect(fromCsr.getExtension(ExtendedKeyUsageExtension)?.usages).toEqual([EKU.serverAuth]);
    });

    it('copies other CSR extensions only with CSR-passthrough templates, and API CustomExtensions only with API-passthrough ones', async () => {
      const extra = new Extension(CUSTOM_OID, false, Uint8Array.of(0x0c, 0x02, 0x68, 0x69));
      const csr = await makeCsr({ extra: [extra] });
      const issueWith = async (template: string): Promise<X509Certificate> =>
        new X509Certificate(
          (
            await ca.issue({
              csrPem: csr,
              template,
              validity: { Type: 'DAYS', Value: 1 },
              apiPassthrough: { Extensions: { CustomExtensions: [{ ObjectIdentifier: '1.3.6.1.4.1.55555.2', Value: Buffer.from([0x05, 0x00]).toString('base64'), Critical: true }] } },
            })
          ).certificatePem,
        );
      const base = await issueWith('EndEntityCertificate/V1');
      expect(base.getExtension(CUSTOM_OID)).toBeNull();
      expect(base.getExtension('1.3.6.1.4.1.55555.2')).toBeNull();
      const csrPassthrough = await issueWith('EndEntityCertificate_CSRPassthrough/V1');
      expect(Buffer.from(csrPassthrough.getExtension(CUSTOM_OID)?.value ?? new ArrayBuffer(0))).toEqual(Buffer.from([0x0c, 0x02, 0x68, 0x69]));
      const both = await issueWith('EndEntityCertificate_APICSRPassthrough/V1');
      expect(both.getExtension(CUSTOM_OID)).not.toBeNull();
      const custom = both.getExtension('1.3.6.1.4.1.55555.2');
      expect([custom?.critical, Buffer.from(custom?.value ?? new ArrayBuffer(0))]).toEqual([true, Buffer.from([0x05, 0x00])]);
    });

    it('marks the SAN critical when the subject is empty (RFC 5280 4.2.1.6)', async () => {
      const csr = await makeCsr({ subject: '', uris: ['spiffe://example.org/no-subject'] });
      const cert = new X509Certificate((await ca.issue({ csrPem: csr, validity: { Type: 'DAYS', Value: 1 } })).certificatePem);
      expect(cert.subject).toBe('');
      expect(cert.getExtension(SubjectAlternativeNameExtension)?.critical).toBe(true);
    });

    it('refuses a URI SAN over 253 characters and OtherName SANs with InvalidArgsException', async () => {
      const long = `spiffe://example.org/${'a'.repeat(233)}`;
      expect(long.length).toBe(254);
      const tooLong = await pcaErrorOf(issue({ template: 'EndEntityCertificate_APIPassthrough/V1', apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: long }] } } }));
      expect(tooLong.errorName).toBe('InvalidArgsException');
      expect(tooLong.message).toContain('apiPassthrough.extensions.subjectAlternativeNames.0.uniformResourceIdentifier');
      const exactly253 = await issue({ template: 'EndEntityCertificate_APIPassthrough/V1', apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: long.slice(0, 253) }] } } });
      expect(uris(exactly253)).toEqual([long.slice(0, 253)]);
      const otherName = await pcaErrorOf(issue({ template: 'EndEntityCertificate_APIPassthrough/V1', apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ OtherName: { TypeId: '1.2.3', Value: 'x' } }] } } }));
      expect(otherName.errorName).toBe('InvalidArgsException');
      const twoKinds = await pcaErrorOf(issue({ template: 'EndEntityCertificate_APIPassthrough/V1', apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ DnsName: 'a.example', IpAddress: '10.0.0.1' }] } } }));
      expect(twoKinds.errorName).toBe('InvalidArgsException');
    });

    it('refuses RSA, SM2 and ML-DSA signing algorithms with the EC CA key', async () => {
      for (const signingAlgorithm of ['SHA256WITHRSA', 'SM3WITHSM2', 'ML_DSA_44'] as const) {
        expect((await pcaErrorOf(issue({ signingAlgorithm }))).errorName).toBe('InvalidArgsException');
      }
    });
  });
});

describe('validity', () => {
  const caNotBefore = new Date('2025-01-01T00:00:00Z');
  const caNotAfter = new Date('2035-01-01T00:00:00Z');
  const issuedAt = new Date('2026-03-31T12:00:00.750Z');

  it('parses END_DATE UTCTime with the 1950 pivot, with lost leading zeros, and GeneralizedTime', () => {
    expect(parseEndDate(491231235959).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(parseEndDate(500101000000).toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(parseEndDate(91231235959).toISOString()).toBe('2009-12-31T23:59:59.000Z');
    expect(parseEndDate(20510630120000).toISOString()).toBe('2051-06-30T12:00:00.000Z');
    for (const bad of [261301000000, 260230000000, 260101240000, 123456789012345]) expect(() => parseEndDate(bad)).toThrow(PcaError);
  });

  it('adds calendar months and years in UTC, clamping to the end of the month', () => {
    expect(addMonthsUtc(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonthsUtc(new Date('2028-02-29T00:00:00Z'), 12).toISOString()).toBe('2029-02-28T00:00:00.000Z');
    expect(addMonthsUtc(new Date('2026-11-15T00:00:00Z'), 3).toISOString()).toBe('2027-02-15T00:00:00.000Z');
  });

  it('back-dates NotBefore 60 minutes, truncates to whole seconds and counts relative types from issuance', () => {
    const window = resolveValidity({ validity: { Type: 'MONTHS', Value: 1 }, issuedAt, caNotBefore, caNotAfter });
    expect(window.notBefore.toISOString()).toBe('2026-03-31T11:00:00.000Z');
    expect(window.notAfter.toISOString()).toBe('2026-04-30T12:00:00.000Z');
    const days = resolveValidity({ validity: { Type: 'DAYS', Value: 1 }, issuedAt, caNotBefore, caNotAfter });
    expect(days.notAfter.toISOString()).toBe('2026-04-01T12:00:00.000Z');
  });

  it('never back-dates before the CA NotBefore', () => {
    const window = resolveValidity({ validity: { Type: 'DAYS', Value: 1 }, issuedAt: new Date('2025-01-01T00:10:00Z'), caNotBefore, caNotAfter });
    expect(window.notBefore.toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('applies an ABSOLUTE ValidityNotBefore exactly and refuses other types, earlier-than-CA starts, too-short and too-long validities', () => {
    const nb = Date.parse('2026-04-01T00:00:00Z') / 1000;
    const window = resolveValidity({ validity: { Type: 'ABSOLUTE', Value: nb + 1 }, validityNotBefore: { Type: 'ABSOLUTE', Value: nb }, issuedAt, caNotBefore, caNotAfter });
    expect([window.notBefore.getTime(), window.notAfter.getTime()]).toEqual([nb * 1000, (nb + 1) * 1000]);
    const rule = (input: Partial<Parameters<typeof resolveValidity>[0]>) => errorNameOf(() => resolveValidity({ validity: { Type: 'DAYS', Value: 1 }, issuedAt, caNotBefore, caNotAfter, ...input }));
    expect(rule({ validityNotBefore: { Type: 'END_DATE', Value: 260401000000 } })).toBe('InvalidArgsException');
    expect(rule({ validityNotBefore: { Type: 'ABSOLUTE', Value: caNotBefore.getTime() / 1000 - 1 } })).toBe('InvalidArgsException');
    expect(rule({ validity: { Type: 'ABSOLUTE', Value: nb }, validityNotBefore: { Type: 'ABSOLUTE', Value: nb } })).toBe('InvalidArgsException');
    expect(rule({ validity: { Type: 'YEARS', Value: 9 } })).toBe('InvalidArgsException');
    expect(rule({ validity: { Type: 'DAYS', Value: 1e12 } })).toBe('InvalidArgsException');
    expect(rule({ validity: { Type: 'END_DATE', Value: 341231235959 } })).toBe('no error');
  });
});

describe('resolveTemplate', () => {
  it('knows the 23 end-entity templates and resolves ARNs and bare names', () => {
    expect(supportedTemplateNames()).toHaveLength(23);
    expect(resolveTemplate(undefined).name).toBe('EndEntityCertificate/V1');
    const t = resolveTemplate('arn:aws:acm-pca:::template/EndEntityClientAuthCertificate_APICSRPassthrough/V1');
    expect([t.name, t.honoursApiPassthrough, t.honoursCsrPassthrough]).toEqual(['EndEntityClientAuthCertificate_APICSRPassthrough/V1', true, true]);
    expect(resolveTemplate('BlankEndEntityCertificate_CSRPassthrough/V1').keyUsage).toBeUndefined();
  });

  it('answers InvalidArnException for malformed ARNs and InvalidArgsException for unknown, CA and other-partition templates', () => {
    expect(errorNameOf(() => resolveTemplate('arn:aws:acm-pca:::template/'))).toBe('InvalidArnException');
    expect(errorNameOf(() => resolveTemplate('arn:aws:acm-pca:::template/EndEntityCertificate/V2'))).toBe('InvalidArgsException');
    expect(errorNameOf(() => resolveTemplate('arn:aws:acm-pca:::template/BlankEndEntityCertificate/V1'))).toBe('InvalidArgsException');
    expect(errorNameOf(() => resolveTemplate('arn:aws:acm-pca:::template/RootCACertificate/V1'))).toBe('InvalidArgsException');
    expect(errorNameOf(() => resolveTemplate('arn:aws-cn:acm-pca:::template/EndEntityCertificate/V1'))).toBe('InvalidArgsException');
  });
});

describe('IssueTraffic', () => {
  it('measures the most calls inside any 1-second sliding window', () => {
    let now = 0;
    const traffic = new IssueTraffic({}, () => now);
    for (const t of [0, 100, 999, 1000, 1100, 2500]) {
      now = t;
      traffic.onIssueCall();
    }
    // (0, 1000] holds 100, 999, 1000; (100, 1100] holds 999, 1000, 1100; 0 has left by t=1000.
    expect(traffic.stats()).toMatchObject({ issueCalls: 6, throttled: 0, maxObservedIssuePerSecond: 3 });
  });

  it('throttles the first N calls, at a rate, or above a per-second quota', () => {
    let now = 0;
    let random = 0.5;
    const traffic = new IssueTraffic({ throttleFirst: 2 }, () => now, () => random);
    expect([traffic.onIssueCall().throttle, traffic.onIssueCall().throttle, traffic.onIssueCall().throttle]).toEqual([true, true, false]);

    traffic.setFaults({ throttleRate: 0.3 });
    random = 0.29;
    expect(traffic.onIssueCall()).toEqual({ throttle: true, message: 'Rate exceeded' });
    random = 0.3;
    expect(traffic.onIssueCall().throttle).toBe(false);

    traffic.setFaults({ maxIssuePerSecond: 2 });
    now = 5000;
    const decisions = [0, 10, 20].map((dt) => {
      now = 5000 + dt;
      return traffic.onIssueCall().throttle;
    });
    expect(decisions).toEqual([false, false, true]);
    now = 6001; // the call at 5000 has left the window
    expect(traffic.onIssueCall().throttle).toBe(false);
    expect(traffic.stats().throttled).toBe(4);
    expect(() => traffic.setFaults({ throttleRate: 2 })).toThrow(RangeError);
  });
});

describe('CertificateStore', () => {
  it('replays issued certificates and revocations from its log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-cert-store-'));
    try {
      const file = join(dir, 'certificates.jsonl');
      const store = await CertificateStore.open(file);
      store.add('0a1b', 'PEM-A', new Date('2026-01-01T00:00:00Z'));
      store.add('7fff', 'PEM-B', new Date('2026-01-02T00:00:00Z'));
      expect(store.revoke('0A:1B', 'SUPERSEDED', new Date('2026-01-03T00:00:00Z'))).toBe(true);
      expect(store.revoke('a1b', 'SUPERSEDED', new Date())).toBe(false);
      await store.flush();
      const reopened = await CertificateStore.open(file);
      expect(reopened.get('7fff')?.certificatePem).toBe('PEM-B');
      expect(reopened.revokedAtCa('0a1b')).toBe(true);
      expect(reopened.revokedAtCa('7fff')).toBe(false);
      expect(reopened.revoked().map((c) => [c.serialHex, c.revocation?.reason])).toEqual([['0a1b', 'SUPERSEDED']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('spells serials one way: no colons, lowercase, no leading zeros', () => {
    expect(canonicalSerial('0A:1b:FF')).toBe('a1bff');
    expect(canonicalSerial('00')).toBe('0');
  });
});

describe('AcmPcaService idempotency', () => {
  let dataDir: string;
  let ca: LocalCa;
  let csr: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'trellis-pca-service-'));
    ca = await LocalCa.load(dataDir);
    csr = await makeCsr();
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const makeService = async (clock: { now: number }, idempotencyMismatch: 'return-original' | 'reject' = 'return-original') => {
    const traffic = new IssueTraffic();
    const service = new AcmPcaService({ ca, store: await CertificateStore.open(), traffic, inProgressPolls: 0, idempotencyMismatch, now: () => new Date(clock.now) });
    const issue = async (token: string, days = 1): Promise<unknown> =>
      (
        await service.handle('IssueCertificate', {
          CertificateAuthorityArn: ca.caArn,
          Csr: Buffer.from(csr).toString('base64'),
          SigningAlgorithm: 'SHA256WITHECDSA',
          Validity: { Type: 'DAYS', Value: days },
          IdempotencyToken: token,
        })
      ).CertificateArn;
    return { service, traffic, issue };
  };

  it('returns the same ARN for 5 minutes, then issues a new certificate', async () => {
    const clock = { now: Date.now() };
    const { traffic, issue } = await makeService(clock);
    const first = await issue('t-1');
    clock.now += 5 * 60 * 1000 - 1;
    expect(await issue('t-1')).toBe(first);
    clock.now += 1;
    expect(await issue('t-1')).not.toBe(first);
    expect(traffic.stats()).toMatchObject({ issueCalls: 3, issued: 2 });
  });

  it('answers concurrent repeats with one certificate', async () => {
    const { traffic, issue } = await makeService({ now: Date.now() });
    const arns = await Promise.all([issue('t-2'), issue('t-2'), issue('t-2')]);
    expect(new Set(arns).size).toBe(1);
    expect(traffic.stats().issued).toBe(1);
  });

  it('returns the original certificate for different parameters by default, and InvalidArgsException under the reject policy', async () => {
    const lenient = await makeService({ now: Date.now() });
    const first = await lenient.issue('t-3', 1);
    expect(await lenient.issue('t-3', 2)).toBe(first);
    const strict = await makeService({ now: Date.now() }, 'reject');
    await strict.issue('t-4', 1);
    expect((await pcaErrorOf(strict.issue('t-4', 2))).errorName).toBe('InvalidArgsException');
    expect(await strict.issue('t-4', 1)).toMatch(/\/certificate\/[0-9a-f]{32}$/);
  });
});
