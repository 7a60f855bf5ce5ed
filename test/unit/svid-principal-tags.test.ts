import { beforeAll, describe, expect, it } from 'vitest';
import { latticeIdentityFromTags, principalTagsFromCertificate, sessionNameFromCertificate } from '../../local/roles-anywhere/session-tags';
import { createTestCa, issueLeaf, type TestCa } from './svid-test-ca';

const ID = 'spiffe://example.org/service/orders';
let ca: TestCa;

beforeAll(async () => {
  ca = await createTestCa({ name: 'CN=Trellis Test CA, OU=Platform Security, O=Example Org, C=US' });
});

describe('principalTagsFromCertificate', () => {
  it('maps subject and issuer RDNs, joins repeated OUs in order, keeps the first DNS and URI, and the first directoryName', async () => {
    const cert = await issueLeaf(ca, {
      subject: 'CN=orders+OU=Security, OU=Engineering, OU=Research, O=Example Org, C=US, ST=Oregon, L=Portland',
      sans: [
        { type: 'dns', value: 'orders.example.org' },
        { type: 'url', value: ID },
        { type: 'dns', value: 'second.example.org' },
        { type: 'url', value: 'spiffe://example.org/service/second' },
        { type: 'dn', value: 'CN=orders-dir, OU=Payments, OU=Cards, O=Example' },
        { type: 'dn', value: 'CN=second-dir' },
        { type: 'email', value: 'orders@example.org' },
        { type: 'ip', value: '10.0.0.7' },
      ],
    });
    expect(principalTagsFromCertificate(cert)).toEqual({
      'x509Subject/CN': 'orders',
      'x509Subject/OU': 'Security/Engineering/Research',
      'x509Subject/O': 'Example Org',
      'x509Subject/C': 'US',
      'x509Subject/ST': 'Oregon',
      'x509Subject/L': 'Portland',
      'x509Issuer/CN': 'Trellis Test CA',
      'x509Issuer/OU': 'Platform Security',
      'x509Issuer/O': 'Example Org',
      'x509Issuer/C': 'US',
      'x509SAN/DNS': 'orders.example.org',
      'x509SAN/URI': ID,
      'x509SAN/Name/CN': 'orders-dir',
      'x509SAN/Name/OU': 'Payments/Cards',
      'x509SAN/Name/O': 'Example',
    });
  });

  it('drops a URI longer than 256 characters without falling back to the second URI', async () => {
    const long = `spiffe://example.org/${'a'.repeat(240)}`;
    expect(long.length).toBeGreaterThan(256);
    const cert = await issueLeaf(ca, { sans: [{ type: 'url', value: long }, { type: 'url', value: ID }] });
    const tags = principalTagsFromCertificate(cert.toString('pem'));
    expect(tags['x509SAN/URI']).toBeUndefined();
    expect(tags['x509Subject/CN']).toBe('orders');
  });

  it('keeps a value of exactly 256 characters', async () => {
    const exact = `spiffe://example.org/${'b'.repeat(256 - 'spiffe://example.org/'.length)}`;
    expect(exact).toHaveLength(256);
    const cert = await issueLeaf(ca, { sans: [{ type: 'url', value: exact }] });
    expect(principalTagsFromCertificate(cert)['x509SAN/URI']).toBe(exact);
  });

  it('drops values with characters STS refuses and does not map unrecognised RDNs', async () => {
    const cert = await issueLeaf(ca, { subject: 'CN=orders (prod), O=Exämple Ünïcode, E=orders@example.org', sans: [{ type: 'url', value: `${ID}?x=1#frag` }] });
    const tags = principalTagsFromCertificate(cert);
    expect(tags).toEqual({
      'x509Subject/O': 'Exämple Ünïcode',
      'x509Issuer/CN': 'Trellis Test CA',
      'x509Issuer/OU': 'Platform Security',
      'x509Issuer/O': 'Example Org',
      'x509Issuer/C': 'US',
    });
  });

  it('reads the leaf when given a PEM chain', async () => {
    const cert = await issueLeaf(ca, { sans: [{ type: 'url', value: ID }] });
    expect(principalTagsFromCertificate(`${cert.toString('pem')}\n${ca.pem}`)['x509SAN/URI']).toBe(ID);
  });
});

describe('sessionNameFromCertificate', () => {
  it('is the serial in lower-case hex, without the DER sign byte, keeping a leading zero nibble', async () => {
    expect(sessionNameFromCertificate(await issueLeaf(ca, { serialNumber: 'FF10A2' }))).toBe('ff10a2');
    expect(sessionNameFromCertificate((await issueLeaf(ca, { serialNumber: '0A0B0C' })).toString('pem'))).toBe('0a0b0c');
    const serial32 = 'a2b95975ec6e1cd85a21c2104c5be129';
    expect(sessionNameFromCertificate(await issueLeaf(ca, { serialNumber: serial32.toUpperCase() }))).toBe(serial32);
  });
});

describe('latticeIdentityFromTags', () => {
  it('picks the five x509 identity fields Lattice passes to targets', () => {
    expect(
      latticeIdentityFromTags({
        'x509SAN/URI': ID,
        'x509SAN/DNS': 'orders.example.org',
        'x509SAN/Name/CN': 'orders-dir',
        'x509Subject/CN': 'orders',
        'x509Issuer/OU': 'Platform Security',
        'x509Issuer/CN': 'Trellis Test CA',
        'x509Subject/OU': 'Security',
      }),
    ).toEqual({
      x509SanUri: ID,
      x509SanDns: 'orders.example.org',
      x509SanNameCn: 'orders-dir',
      x509SubjectCn: 'orders',
      x509IssuerOu: 'Platform Security',
    });
  });

  it('leaves out fields whose tag is absent', () => {
    expect(latticeIdentityFromTags({ 'x509Subject/CN': 'orders' })).toEqual({ x509SubjectCn: 'orders' });
    expect(latticeIdentityFromTags({})).toEqual({});
  });
});
