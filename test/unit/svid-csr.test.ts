import { describe, expect, it } from 'vitest';
import { Extension, ExtensionsAttribute, SubjectAlternativeNameExtension } from '../../shared/x509';
import { CSR_MAX_BYTES, checkCsr, type CsrCheckResult } from '../../shared/svid/csr';
import { encodePem } from '../../shared/svid/pem';
import { createCsrPem, pemToDer } from './svid-test-ca';

const ID = 'spiffe://example.org/service/orders';
const entry = { spiffeId: ID, dnsNames: ['orders.internal.example.org', 'orders.example.org'] };
const uri = (value: string) => ({ type: 'url' as const, value });
const dns = (value: string) => ({ type: 'dns' as const, value });

function expectRejected(result: CsrCheckResult, reason: string): string {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('expected a rejection');
  expect(result.reason).toBe(reason);
  expect(result.message.length).toBeGreaterThan(20);
  return result.message;
}

describe('checkCsr accepts', () => {
  it('an EC P-256 CSR carrying the entry URI SAN and a registered DNS name', async () => {
    const pem = await createCsrPem({ kind: 'P-256', sans: [uri(ID), dns('ORDERS.example.org')] });
    expect(await checkCsr(pem, entry)).toEqual({ ok: true, publicKey: { algorithm: 'EC', curve: 'P-256' }, subject: 'CN=orders' });
  });

  it('an EC P-256 CSR with no SAN at all (the URI SAN is added by API passthrough)', async () => {
    const pem = await createCsrPem({ kind: 'P-256', subject: 'CN=orders, O=Example' });
    expect(await checkCsr(pem, entry)).toEqual({ ok: true, publicKey: { algorithm: 'EC', curve: 'P-256' }, subject: 'CN=orders, O=Example' });
  });

  it('an EC P-384 CSR with and without the URI SAN', async () => {
    expect(await checkCsr(await createCsrPem({ kind: 'P-384', sans: [uri(ID)] }), entry)).toEqual({
      ok: true,
      publicKey: { algorithm: 'EC', curve: 'P-384' },
      subject: 'CN=orders',
    });
    expect(await checkCsr(await createCsrPem({ kind: 'P-384' }), entry)).toMatchObject({ ok: true, publicKey: { curve: 'P-384' } });
  });

  it('an RSA-2048 CSR with and without the URI SAN', async () => {
    expect(await checkCsr(await createCsrPem({ kind: 'RSA-2048', sans: [uri(ID)] }), entry)).toEqual({
      ok: true,
      publicKey: { algorithm: 'RSA', bits: 2048 },
      subject: 'CN=orders',
    });
    expect(await checkCsr(await createCsrPem({ kind: 'RSA-2048' }), entry)).toMatchObject({ ok: true, publicKey: { bits: 2048 } });
  });

  it('CRLF line endings and surrounding whitespace', async () => {
    const pem = await createCsrPem({ sans: [uri(ID)] });
    expect((await checkCsr(`\n  ${pem.replace(/\n/g, '\r\n')}  \n`, entry)).ok).toBe(true);
  });
});

describe('checkCsr refuses', () => {
  it('a URI SAN other than the SPIFFE ID (foreign-uri)', async () => {
    const pem = await createCsrPem({ sans: [uri('spiffe://example.org/service/billing')] });
    const message = expectRejected(await checkCsr(pem, entry), 'foreign-uri');
    expect(message).toContain('spiffe://example.org/service/billing');
    expect(message).toContain(ID);
  });

  it('a second URI SAN even when the first is the SPIFFE ID (foreign-uri)', async () => {
    expectRejected(await checkCsr(await createCsrPem({ sans: [uri(ID), uri('spiffe://example.org/service/billing')] }), entry), 'foreign-uri');
    const message = expectRejected(await checkCsr(await createCsrPem({ sans: [uri(ID), uri(ID)] }), entry), 'foreign-uri');
    expect(message).toContain('exactly one');
  });

  it('a non-spiffe URI SAN (foreign-uri)', async () => {
    expectRejected(await checkCsr(await createCsrPem({ sans: [uri(ID), uri('https://orders.example.org/')] }), entry), 'foreign-uri');
  });

  it('a DNS SAN the entry does not grant (foreign-dns)', async () => {
    const message = expectRejected(await checkCsr(await createCsrPem({ sans: [uri(ID), dns('billing.example.org')] }), entry), 'foreign-dns');
    expect(message).toContain('billing.example.org');
    expectRejected(await checkCsr(await createCsrPem({ sans: [dns('orders.example.org')] }), { spiffeId: ID, dnsNames: [] }), 'foreign-dns');
  });

  it('email, IP, directoryName and otherName SANs (foreign-san)', async () => {
    for (const san of [
      { type: 'email' as const, value: 'orders@example.org' },
      { type: 'ip' as const, value: '10.0.0.1' },
      { type: 'dn' as const, value: 'CN=orders' },
      { type: 'upn' as const, value: 'orders@example.org' },
    ]) {
      expectRejected(await checkCsr(await createCsrPem({ sans: [uri(ID), san] }), entry), 'foreign-san');
    }
  });

  it('an otherName SAN of a type @peculiar/x509 cannot represent (foreign-san)', async () => {
    // A UPN otherName with its OID's last arc changed from 3 to 9: 1.3.6.1.4.1.311.20.2.9.
    const upn = new SubjectAlternativeNameExtension([{ type: 'upn', value: 'x@y' }]);
    const value = Buffer.from(upn.value);
    const oid = Buffer.from('2b060104018237140203', 'hex');
    const at = value.indexOf(oid);
    expect(at).toBeGreaterThan(0);
    value[at + oid.length - 1] = 0x09;
    const pem = await createCsrPem({ sans: undefined, extensions: [new Extension('2.5.29.17', false, value)] });
    expect(expectRejected(await checkCsr(pem, entry), 'foreign-san')).toContain('otherName ("1.3.6.1.4.1.311.20.2.9")');
  });

  it('a second extensionRequest attribute that could hide a SAN (malformed)', async () => {
    const hidden = new ExtensionsAttribute([new SubjectAlternativeNameExtension([uri('spiffe://example.org/service/billing')])]);
    const pem = await createCsrPem({ sans: [uri(ID)], attributes: [hidden] });
    expect(expectRejected(await checkCsr(pem, entry), 'malformed')).toContain('more than one extensionRequest');
  });

  it('a P-521 key (unsupported-key)', async () => {
    expect(expectRejected(await checkCsr(await createCsrPem({ kind: 'P-521' }), entry), 'unsupported-key')).toContain('P-521');
  });

  it('an Ed25519 key (unsupported-key)', async () => {
    expect(expectRejected(await checkCsr(await createCsrPem({ kind: 'Ed25519' }), entry), 'unsupported-key')).toContain('Ed25519');
  });

  it('an RSA-1024 key (weak-key)', async () => {
    expect(expectRejected(await checkCsr(await createCsrPem({ kind: 'RSA-1024' }), entry), 'weak-key')).toContain('1024');
  });

  it('a CSR whose signature was tampered with (bad-signature)', async () => {
    const der = pemToDer(await createCsrPem({ sans: [uri(ID)] }));
    // The signature BIT STRING ends the DER; flipping its last byte keeps the ASN.1 valid.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    expectRejected(await checkCsr(encodePem(der, 'CERTIFICATE REQUEST'), entry), 'bad-signature');
  });

  it('a CSR whose signed content was altered (bad-signature)', async () => {
    const der = pemToDer(await createCsrPem({ subject: 'CN=orders' }));
    const at = der.indexOf(Buffer.from('orders'));
    der.write('billin', at, 'latin1');
    expectRejected(await checkCsr(encodePem(der, 'CERTIFICATE REQUEST'), entry), 'bad-signature');
  });

  it('garbage, non-PEM text and invalid base64 (not-pem)', async () => {
    expectRejected(await checkCsr('not a csr', entry), 'not-pem');
    expectRejected(await checkCsr('', entry), 'not-pem');
    expectRejected(await checkCsr('-----BEGIN CERTIFICATE REQUEST-----\n!!!notbase64$$\n-----END CERTIFICATE REQUEST-----\n', entry), 'not-pem');
    const pem = await createCsrPem();
    expectRejected(await checkCsr(`garbage before\n${pem}`, entry), 'not-pem');
    expectRejected(await checkCsr(pem.replace('END CERTIFICATE REQUEST', 'END CERTIFICATE'), entry), 'not-pem');
  });

  it('two PEM blocks (not-pem)', async () => {
    const pem = await createCsrPem();
    expect(expectRejected(await checkCsr(`${pem}${pem}`, entry), 'not-pem')).toContain('exactly one');
  });

  it('a PEM block of another type (not-pem)', async () => {
    const der = pemToDer(await createCsrPem());
    expect(expectRejected(await checkCsr(encodePem(der, 'CERTIFICATE'), entry), 'not-pem')).toContain('CERTIFICATE REQUEST');
  });

  it('valid base64 that is not a PKCS #10 request (malformed)', async () => {
    expectRejected(await checkCsr(encodePem(Buffer.from('hello world, not DER'), 'CERTIFICATE REQUEST'), entry), 'malformed');
    const der = pemToDer(await createCsrPem());
    expectRejected(await checkCsr(encodePem(der.subarray(0, der.length - 20), 'CERTIFICATE REQUEST'), entry), 'malformed');
  });

  it('a SPIFFE ID hidden in the subject (subject-spiffe)', async () => {
    expectRejected(await checkCsr(await createCsrPem({ subject: `CN=${ID}` }), entry), 'subject-spiffe');
    expectRejected(await checkCsr(await createCsrPem({ subject: 'CN=orders, OU=SPIFFE://example.org/service/billing', sans: [uri(ID)] }), entry), 'subject-spiffe');
  });

  it('a CSR with neither subject nor SAN (empty-name)', async () => {
    expectRejected(await checkCsr(await createCsrPem({ subject: '' }), entry), 'empty-name');
  });

  it(`a CSR larger than ${CSR_MAX_BYTES} bytes (too-large)`, async () => {
    const pem = await createCsrPem();
    expectRejected(await checkCsr(pem + ' '.repeat(CSR_MAX_BYTES), entry), 'too-large');
  });
});
