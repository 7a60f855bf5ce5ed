import { beforeAll, describe, expect, it } from 'vitest';
import { ExtendedKeyUsage, KeyUsageFlags, X509CertificateGenerator } from '../../shared/x509';
import type { webcrypto } from 'node:crypto';
import { TrellisError } from '../../shared/errors';
import { checkX509Svid, parseCertificateChain, type SvidCheckResult } from '../../shared/svid/x509-svid';
import { encodePem } from '../../shared/svid/pem';
import { createCsrPem, createTestCa, issueLeaf, keyPair, pemToDer, type LeafOptions, type TestCa } from './svid-test-ca';

const ID = 'spiffe://example.org/service/orders';
const notBefore = new Date('2030-01-01T00:00:00Z');
const notAfter = new Date('2030-01-01T01:00:00Z');
const expected = { spiffeId: ID, notBefore, notAfter };

let ca: TestCa;
let otherCa: TestCa;

beforeAll(async () => {
  ca = await createTestCa();
  // Same subject, different key: only the signature tells them apart.
  otherCa = await createTestCa({ slot: 101 });
});

const leafPem = async (opts: LeafOptions = {}): Promise<string> =>
  (await issueLeaf(ca, { sans: [{ type: 'url', value: ID }], notBefore, notAfter, ...opts })).toString('pem');

function rules(result: SvidCheckResult): string[] {
  if (result.ok) return [];
  return result.violations.map((v) => v.rule);
}

describe('checkX509Svid', () => {
  it('accepts a valid leaf signed by the CA and returns its serial and validity', async () => {
    const pem = await leafPem({ serialNumber: '5A3C00FF11', sans: [{ type: 'url', value: ID }, { type: 'dns', value: 'orders.example.org' }] });
    expect(await checkX509Svid(pem, { ...expected, caCertPem: ca.pem })).toEqual({ ok: true, serialHex: '5a3c00ff11', notBefore, notAfter });
  });

  it('accepts a chain PEM as the CA and a leaf without extendedKeyUsage', async () => {
    const pem = await leafPem({ extendedKeyUsage: null });
    expect((await checkX509Svid(pem, { ...expected, caCertPem: `${ca.pem}\n${otherCa.pem}` })).ok).toBe(true);
  });

  it('refuses two URI SANs, and none', async () => {
    const two = await leafPem({ sans: [{ type: 'url', value: ID }, { type: 'url', value: 'spiffe://example.org/service/billing' }] });
    const result = await checkX509Svid(two, expected);
    expect(rules(result)).toEqual(['uri-san-count']);
    expect(result.ok ? '' : result.violations[0]?.message).toContain('spiffe://example.org/service/billing');
    expect(rules(await checkX509Svid(await leafPem({ sans: [{ type: 'dns', value: 'orders.example.org' }] }), expected))).toEqual(['uri-san-count']);
    expect(rules(await checkX509Svid(await leafPem({ sans: undefined }), expected))).toEqual(['uri-san-count']);
  });

  it('refuses a different SPIFFE ID', async () => {
    const result = await checkX509Svid(await leafPem({ sans: [{ type: 'url', value: 'spiffe://example.org/service/billing' }] }), expected);
    expect(rules(result)).toEqual(['spiffe-id']);
  });

  it('refuses CA:TRUE and a missing basicConstraints', async () => {
    expect(rules(await checkX509Svid(await leafPem({ basicConstraintsCa: true }), expected))).toEqual(['basic-constraints-ca']);
    expect(rules(await checkX509Svid(await leafPem({ basicConstraintsCa: null }), expected))).toEqual(['basic-constraints-missing']);
  });

  it('refuses keyCertSign, cRLSign, a missing digitalSignature, a non-critical or missing keyUsage', async () => {
    const ds = KeyUsageFlags.digitalSignature;
    expect(rules(await checkX509Svid(await leafPem({ keyUsage: ds | KeyUsageFlags.keyCertSign }), expected))).toEqual(['key-usage-cert-sign']);
    expect(rules(await checkX509Svid(await leafPem({ keyUsage: ds | KeyUsageFlags.cRLSign }), expected))).toEqual(['key-usage-crl-sign']);
    expect(rules(await checkX509Svid(await leafPem({ keyUsage: KeyUsageFlags.keyEncipherment }), expected))).toEqual(['key-usage-digital-signature']);
    expect(rules(await checkX509Svid(await leafPem({ keyUsageCritical: false }), expected))).toEqual(['key-usage-critical']);
    expect(rules(await checkX509Svid(await leafPem({ keyUsage: null }), expected))).toEqual(['key-usage-missing']);
  });

  it('refuses an extendedKeyUsage without serverAuth (ACM PCA client-auth-only templates)', async () => {
    const result = await checkX509Svid(await leafPem({ extendedKeyUsage: [ExtendedKeyUsage.clientAuth] }), expected);
    expect(rules(result)).toEqual(['extended-key-usage']);
    expect(result.ok ? '' : result.violations[0]?.message).toContain('serverAuth');
  });

  it('checks the validity window within the tolerance', async () => {
    const early = new Date(notBefore.getTime() - 4_000);
    expect((await checkX509Svid(await leafPem({ notBefore: early }), expected)).ok).toBe(true);
    const backdated = new Date(notBefore.getTime() - 3_600_000);
    expect(rules(await checkX509Svid(await leafPem({ notBefore: backdated }), expected))).toEqual(['not-before']);
    const later = new Date(notAfter.getTime() + 10_000);
    expect(rules(await checkX509Svid(await leafPem({ notAfter: later }), expected))).toEqual(['not-after']);
    expect((await checkX509Svid(await leafPem({ notAfter: later }), { ...expected, toleranceSeconds: 15 })).ok).toBe(true);
  });

  it('refuses a leaf from another CA: signature by key, issuer by name', async () => {
    const foreign = (await issueLeaf(otherCa, { sans: [{ type: 'url', value: ID }], notBefore, notAfter })).toString('pem');
    expect(rules(await checkX509Svid(foreign, { ...expected, caCertPem: ca.pem }))).toEqual(['signature']);
    // Signed by the right key, but naming another issuer.
    const renamed = await leafPem({ issuerName: 'CN=Someone Else' });
    expect(rules(await checkX509Svid(renamed, { ...expected, caCertPem: ca.pem }))).toEqual(['issuer']);
    const renamedForeign = (await issueLeaf(otherCa, { sans: [{ type: 'url', value: ID }], notBefore, notAfter, issuerName: 'CN=Someone Else' })).toString('pem');
    expect(rules(await checkX509Svid(renamedForeign, { ...expected, caCertPem: ca.pem }))).toEqual(['issuer', 'signature']);
    expect(rules(await checkX509Svid(await leafPem(), { ...expected, caCertPem: 'nonsense' }))).toEqual(['ca-certificate']);
  });

  it('requires a critical SAN when the subject is empty', async () => {
    expect(rules(await checkX509Svid(await leafPem({ subject: '' }), expected))).toEqual(['san-critical']);
    expect((await checkX509Svid(await leafPem({ subject: '', sanCritical: true }), expected)).ok).toBe(true);
  });

  it('refuses a SHA-1 signature', async () => {
    const leafKeys = await keyPair('P-256', 1);
    const cert = await X509CertificateGenerator.create({
      subject: 'CN=orders',
      issuer: ca.cert.subject,
      publicKey: leafKeys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } as webcrypto.EcdsaParams,
      notBefore,
      notAfter,
      extensions: (await issueLeaf(ca, { sans: [{ type: 'url', value: ID }] })).extensions,
    });
    expect(rules(await checkX509Svid(cert.toString('pem'), { ...expected, caCertPem: ca.pem }))).toEqual(['signature-hash']);
  });

  it('reports every broken rule at once', async () => {
    const pem = await leafPem({ basicConstraintsCa: true, keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, notAfter: new Date('2031-01-01T00:00:00Z') });
    expect(rules(await checkX509Svid(pem, expected))).toEqual([
      'basic-constraints-ca',
      'key-usage-digital-signature',
      'key-usage-cert-sign',
      'key-usage-crl-sign',
      'not-after',
    ]);
  });

  it('refuses text that is not exactly one certificate', async () => {
    const pem = await leafPem();
    expect(rules(await checkX509Svid('garbage', expected))).toEqual(['not-pem']);
    expect(rules(await checkX509Svid(await createCsrPem(), expected))).toEqual(['not-pem']);
    expect(rules(await checkX509Svid(encodePem(Buffer.from('not der'), 'CERTIFICATE'), expected))).toEqual(['malformed']);
    expect(rules(await checkX509Svid(`${pem}${ca.pem}`, expected))).toEqual(['single-certificate']);
  });
});

describe('parseCertificateChain', () => {
  it('returns the certificates in order', async () => {
    const leaf = await leafPem();
    const chain = parseCertificateChain(`${leaf}${ca.pem}`);
    expect(chain.map((c) => c.subject)).toEqual(['CN=orders', ca.cert.subject]);
    expect(Buffer.from(chain[1]?.rawData ?? new ArrayBuffer(0)).equals(pemToDer(ca.pem))).toBe(true);
  });

  it('throws InvalidCertificate for other blocks and garbage', async () => {
    expect(() => parseCertificateChain('garbage')).toThrow(TrellisError);
    const csr = await createCsrPem();
    expect(() => parseCertificateChain(`${ca.pem}${csr}`)).toThrow(/PEM block 2 is a "CERTIFICATE REQUEST"/);
    try {
      parseCertificateChain(encodePem(Buffer.from('xx'), 'CERTIFICATE'));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'InvalidCertificate', status: 400 });
    }
  });
});
