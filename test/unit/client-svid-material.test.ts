/** loadSvidMaterial: what a workload's SVID directory must be before it signs anything, and the error that names each problem. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadSvidMaterial, WorkloadEdgeError, writeSvidFiles, type CreateSessionInput } from '@trellis/client';
import { makeCa, makeSvid, ORDERS, writeSvidDir, type Pki } from './client-pki';

let root: string;
let ca: Pki;
let svid: Pki;
let n = 0;
const dir = (): string => join(root, `svid-${++n}`);

const failure = async (promise: Promise<unknown>): Promise<WorkloadEdgeError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkloadEdgeError);
  return error as WorkloadEdgeError;
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-client-svid-'));
  ca = await makeCa();
  svid = await makeSvid(ca);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadSvidMaterial', () => {
  it('reads a good SVID directory: leaf, key usable for CreateSession, serial as Roles Anywhere names the session, SPIFFE ID, validity', async () => {
    const d = dir();
    await writeSvidDir(d, svid, ca);
    const material = await loadSvidMaterial(d);
    expect(material.spiffeId).toBe(ORDERS);
    expect(material.serialHex).toBe(svid.cert.serialNumber.toLowerCase());
    expect(material.serialHex).toMatch(/^[0-9a-f]+$/);
    expect(material.chainPems).toEqual([]);
    expect(material.notAfter.getTime()).toBe(svid.cert.notAfter.getTime());
    expect(material.bundlePem).toBe(ca.cert.toString('pem'));
    expect(material.privateKey.algorithm.name).toBe('ECDSA');
    // The key signs a CreateSession request (no network: the fetch stub answers).
    let signedHeaders: Record<string, string> = {};
    const input: CreateSessionInput = {
      endpoint: 'http://rolesanywhere.test',
      region: 'us-east-1',
      trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a',
      profileArn: 'arn:aws:rolesanywhere:us-east-1:111122223333:profile/p',
      roleArn: 'arn:aws:iam::111122223333:role/r',
      certificatePem: material.certificatePem,
      privateKey: material.privateKey,
      fetchImpl: async (_url, init) => {
        signedHeaders = init.headers;
        return { status: 403, headers: new Headers({ 'x-amzn-errortype': 'AccessDeniedException' }), text: async () => '{"message":"stub"}' };
      },
    };
    await expect(createSession(input)).rejects.toThrow('stub');
    expect(signedHeaders.authorization).toMatch(/^AWS4-X509-ECDSA-SHA256 Credential=\d+\//);
  });

  it('SvidExpired: says when it expired and to run or restart `trellis svid fetch --watch`', async () => {
    const d = dir();
    await writeSvidDir(d, svid, ca);
    const error = await failure(loadSvidMaterial(d, { now: () => new Date(svid.cert.notAfter.getTime() + 1000) }));
    expect(error.code).toBe('SvidExpired');
    expect(error.message).toContain(svid.cert.notAfter.toISOString());
    expect(error.message).toContain(d);
    expect(error.fix).toContain('trellis svid fetch --watch');
  });

  it('SvidNotYetValid: says from when, and points at clock skew', async () => {
    const d = dir();
    await writeSvidDir(d, svid, ca);
    const error = await failure(loadSvidMaterial(d, { now: () => new Date(svid.cert.notBefore.getTime() - 60_000) }));
    expect(error.code).toBe('SvidNotYetValid');
    expect(error.message).toContain(svid.cert.notBefore.toISOString());
    expect(error.fix).toMatch(/clock/);
  });

  it('SvidKeyMismatch: a key of another certificate, still mismatched when read again', async () => {
    const d = dir();
    const other = await makeSvid(ca);
    await writeSvidDir(d, svid, ca, other.keyPem);
    const error = await failure(loadSvidMaterial(d));
    expect(error.code).toBe('SvidKeyMismatch');
    expect(error.message).toContain(svid.cert.serialNumber.toLowerCase());
    expect(error.fix).toContain('svid-key.pem');
    expect(error.fix).toContain('svid.pem');
  });

  it('a key/certificate mismatch seen between the two renames of a rotation is read again, not reported', async () => {
    const d = dir();
    const next = await makeSvid(ca);
    // The rotation has renamed the new key in but not yet the new certificate.
    await writeSvidDir(d, svid, ca, next.keyPem);
    let reread = false;
    const material = await loadSvidMaterial(d, {
      // The rotation's second rename lands while the loader waits to read again.
      beforeReread: async () => {
        reread = true;
        await writeSvidFiles(d, { certificatePem: next.cert.toString('pem'), keyPem: next.keyPem, bundlePem: ca.cert.toString('pem') });
      },
    });
    expect(reread).toBe(true);
    expect(material.serialHex).toBe(next.cert.serialNumber.toLowerCase());
  });

  it('SvidUntrusted: names the SVID\'s issuer and the subjects in bundle.pem', async () => {
    const d = dir();
    const foreign = await makeCa('CN=Some Other CA, O=Elsewhere');
    await writeSvidDir(d, svid, foreign);
    const error = await failure(loadSvidMaterial(d));
    expect(error.code).toBe('SvidUntrusted');
    expect(error.message).toContain(ca.cert.subject);
    expect(error.message).toContain('CN=Some Other CA, O=Elsewhere');
    expect(error.fix).toContain('bundle.pem');
  });

  it('SvidUntrusted also for a CA with the same name but another key (a replaced CA)', async () => {
    const d = dir();
    const lookalike = await makeCa(ca.cert.subject);
    await writeSvidDir(d, svid, lookalike);
    expect((await failure(loadSvidMaterial(d))).code).toBe('SvidUntrusted');
  });

  it('SvidNoSpiffeId: a certificate without a spiffe:// URI SAN is not an SVID', async () => {
    const d = dir();
    const dnsOnly = await makeSvid(ca, { sans: [{ type: 'dns', value: 'orders.example.org' }] });
    await writeSvidDir(d, dnsOnly, ca);
    const error = await failure(loadSvidMaterial(d));
    expect(error.code).toBe('SvidNoSpiffeId');
    expect(error.message).toContain('spiffe://');
  });

  it('SvidFilesMissing: an empty directory names the file and the fetch command', async () => {
    const error = await failure(loadSvidMaterial(dir()));
    expect(error.code).toBe('SvidFilesMissing');
    expect(error.fix).toContain('trellis svid fetch');
  });
});
