/**
 * The CRL import use case on fakes of its two seams: which object an event names, ImportCrl the
 * first time and UpdateCrl after, EnableCrl every time, DER converted to PEM, and the events it
 * leaves alone (a failed generation, another CA's CRL).
 */
import { describe, expect, it } from 'vitest';
import type { CrlImportDeps, ImportedCrl } from '../../shared/crl/deps';
import { crlObjectOf, crlPem, importCaCrl } from '../../shared/crl/import-crl';

const CA = 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/11223344-1234-1122-2233-112233445566';
const TA = 'arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/00000000-0000-4000-8000-000000000001';
const DER = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);

function fakes() {
  const calls: string[] = [];
  const imported: ImportedCrl[] = [];
  const reads: string[] = [];
  let lastData: Uint8Array | undefined;
  const deps: CrlImportDeps = {
    objects: {
      get: async (bucket, key) => {
        reads.push(`${bucket}/${key}`);
        return DER;
      },
    },
    crls: {
      list: async () => {
        calls.push('ListCrls');
        return [...imported];
      },
      importCrl: async (input) => {
        calls.push('ImportCrl');
        lastData = input.crlData;
        const crl = { crlId: 'crl-1', name: input.name, trustAnchorArn: input.trustAnchorArn, enabled: input.enabled };
        imported.push(crl);
        return crl;
      },
      updateCrl: async (crlId, data) => {
        calls.push(`UpdateCrl ${crlId}`);
        lastData = data;
      },
      enableCrl: async (crlId) => {
        calls.push(`EnableCrl ${crlId}`);
      },
    },
    trustAnchorArn: TA,
    crlName: 'trellis-dev-ca',
    bucket: 'configured-bucket',
    caArn: CA,
  };
  return { deps, calls, reads, data: () => lastData };
}

const event = (resources: string[], result = 'success') => ({ resources, detail: { result } });

describe('importCaCrl', () => {
  it('imports the object the event names (PEM), then updates it; enables it every time', async () => {
    const f = fakes();
    expect(await importCaCrl(f.deps, event([CA, 'arn:aws:s3:::crl-bucket/crl/11223344.crl']))).toMatchObject({ outcome: 'imported', crlId: 'crl-1', bucket: 'crl-bucket', key: 'crl/11223344.crl' });
    expect(Buffer.from(f.data() ?? []).toString()).toContain('-----BEGIN X509 CRL-----');
    expect(await importCaCrl(f.deps, event([CA, 'arn:aws:s3:::crl-bucket/crl/11223344.crl']))).toMatchObject({ outcome: 'updated', crlId: 'crl-1' });
    expect(f.calls).toEqual(['ListCrls', 'ImportCrl', 'EnableCrl crl-1', 'ListCrls', 'UpdateCrl crl-1', 'EnableCrl crl-1']);
  });

  it('falls back to crl/<CA id>.crl in the configured bucket when the event names no object', async () => {
    const f = fakes();
    await importCaCrl(f.deps, event([CA]));
    expect(f.reads).toEqual(['configured-bucket/crl/11223344-1234-1122-2233-112233445566.crl']);
  });

  it('leaves a failed generation and another CA\'s CRL alone', async () => {
    const f = fakes();
    expect(await importCaCrl(f.deps, event([CA], 'failure'))).toMatchObject({ outcome: 'skipped' });
    expect(await importCaCrl(f.deps, event(['arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/other']))).toMatchObject({ outcome: 'skipped' });
    expect(f.calls).toEqual([]);
  });

  it('crlObjectOf and crlPem', () => {
    expect(crlObjectOf(event(['arn:aws-cn:s3:::b/x/y.crl']), 'c')).toEqual({ bucket: 'b', key: 'x/y.crl' });
    expect(crlObjectOf(event([]), 'c')).toBeUndefined();
    const pem = new TextEncoder().encode('-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n');
    expect(crlPem(pem)).toBe(pem);
    expect(Buffer.from(crlPem(DER)).toString()).toBe('-----BEGIN X509 CRL-----\nMAMCAQE=\n-----END X509 CRL-----\n');
  });
});
