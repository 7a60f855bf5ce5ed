import { beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from '../../shared/x509';
import type { webcrypto } from 'node:crypto';
import { toSpiffeBundle } from '../../shared/svid/bundle';
import { createTestCa, issueLeaf, pemToDer, type TestCa } from './svid-test-ca';

let ecCa: TestCa;
let rsaCa: TestCa;

beforeAll(async () => {
  ecCa = await createTestCa({ kind: 'P-256', name: 'O=example.org, CN=EC root' });
  rsaCa = await createTestCa({ kind: 'RSA-2048', name: 'O=example.org, CN=RSA root' });
});

/** Signs with the CA's private key and verifies with the key rebuilt from the JWK alone. */
async function jwkVerifiesCaSignature(jwk: webcrypto.JsonWebKey, ca: TestCa): Promise<boolean> {
  const data = new TextEncoder().encode('trust bundle check');
  const params = ca.kind === 'P-256' ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const signature = await crypto.subtle.sign(params, ca.keys.privateKey, data);
  const publicKey = await crypto.subtle.importKey('jwk', jwk, params, false, ['verify']);
  return crypto.subtle.verify(params, publicKey, signature, data);
}

describe('toSpiffeBundle', () => {
  it('builds one x509-svid JWK per CA with only the spec members, plus hint and sequence', async () => {
    const bundle = await toSpiffeBundle([ecCa.pem, rsaCa.pem], { refreshHintSeconds: 300, sequence: 7 });
    expect(Object.keys(bundle).sort()).toEqual(['keys', 'spiffe_refresh_hint', 'spiffe_sequence']);
    expect(bundle.spiffe_refresh_hint).toBe(300);
    expect(bundle.spiffe_sequence).toBe(7);
    const [ec, rsa] = bundle.keys;
    if (ec === undefined || rsa === undefined) throw new Error('expected two keys');

    expect(Object.keys(ec).sort()).toEqual(['crv', 'kty', 'use', 'x', 'x5c', 'y']);
    expect(ec).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'x509-svid' });
    expect(ec.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ec.y).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(rsa).sort()).toEqual(['e', 'kty', 'n', 'use', 'x5c']);
    expect(rsa).toMatchObject({ kty: 'RSA', use: 'x509-svid', e: 'AQAB' });
    expect(rsa.n).toMatch(/^[A-Za-z0-9_-]{342}$/);
  });

  it('puts the CA certificate DER, base64, as the single x5c value', async () => {
    const bundle = await toSpiffeBundle([ecCa.pem, rsaCa.pem], {});
    for (const [index, ca] of [ecCa, rsaCa].entries()) {
      const x5c = bundle.keys[index]?.x5c ?? [];
      expect(x5c).toHaveLength(1);
      expect(Buffer.from(x5c[0] ?? '', 'base64').equals(pemToDer(ca.pem))).toBe(true);
      expect(new X509Certificate(x5c[0] ?? '').subject).toBe(ca.cert.subject);
    }
  });

  it('exports the CA public key itself (a CA signature verifies with the JWK)', async () => {
    const bundle = await toSpiffeBundle([ecCa.pem, rsaCa.pem]);
    const [ec, rsa] = bundle.keys;
    expect(await jwkVerifiesCaSignature({ kty: ec?.kty, crv: ec?.crv, x: ec?.x, y: ec?.y }, ecCa)).toBe(true);
    expect(await jwkVerifiesCaSignature({ kty: rsa?.kty, n: rsa?.n, e: rsa?.e }, rsaCa)).toBe(true);
    expect(await jwkVerifiesCaSignature({ kty: ec?.kty, crv: ec?.crv, x: ec?.x, y: ec?.y }, await createTestCa({ slot: 7 }))).toBe(false);
  });

  it('takes chains, drops duplicates and leaves out unset options', async () => {
    const bundle = await toSpiffeBundle([`${ecCa.pem}${rsaCa.pem}`, ecCa.pem]);
    expect(bundle.keys.map((k) => k.kty)).toEqual(['EC', 'RSA']);
    expect(Object.keys(bundle)).toEqual(['keys']);
    expect(await toSpiffeBundle([])).toEqual({ keys: [] });
  });

  it('refuses a leaf certificate and bad option values', async () => {
    const leaf = await issueLeaf(ecCa, { sans: [{ type: 'url', value: 'spiffe://example.org/service/orders' }] });
    await expect(toSpiffeBundle([leaf.toString('pem')])).rejects.toMatchObject({ code: 'InvalidTrustBundle' });
    await expect(toSpiffeBundle([ecCa.pem], { sequence: -1 })).rejects.toThrow(/sequence/);
    await expect(toSpiffeBundle([ecCa.pem], { refreshHintSeconds: 1.5 })).rejects.toThrow(/refreshHintSeconds/);
  });
});
