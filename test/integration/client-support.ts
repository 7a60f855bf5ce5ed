/**
 * Helpers of the workload-client integration tests: the built `trellis` CLI run as a child process,
 * and SVIDs issued by the local ACM PCA's CA from a key made on the "workload" (as `trellis svid fetch` does).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCsr, exportPrivateKeyPem, generateKeyPair, writeSvidFiles } from '@trellis/client';
import type { LocalCa } from '../../local/acm-pca/local-ca';

const exec = promisify(execFile);

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'client', 'dist', 'trellis.mjs');

/** Builds client/dist/trellis.mjs from the current source, so the tests never run a stale bundle. */
export async function buildCli(): Promise<void> {
  await exec('npm', ['run', 'build', '-w', '@trellis/client'], { cwd: ROOT });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export interface IssuedSvid {
  certificatePem: string;
  keyPem: string;
  serialHex: string;
}

/** A new P-256 key and CSR, and the SVID the local CA signs for it (the SPIFFE ID forced through API passthrough, as Trellis does). */
export async function issueSvid(ca: LocalCa, spiffeId: string, options: { notAfter?: number } = {}): Promise<IssuedSvid> {
  const keys = await generateKeyPair('P-256');
  const csrPem = await createCsr({ keys, spiffeId });
  const issued = await ca.issue({
    csrPem,
    template: 'EndEntityCertificate_APIPassthrough/V1',
    validity: options.notAfter === undefined ? { Type: 'DAYS', Value: 1 } : { Type: 'ABSOLUTE', Value: options.notAfter },
    apiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: spiffeId }] } },
  });
  return { certificatePem: issued.certificatePem, keyPem: await exportPrivateKeyPem(keys.privateKey), serialHex: issued.serialHex };
}

/** Issues an SVID and writes the SVID directory with the CA's certificate as bundle.pem. */
export async function writeIssuedSvid(dir: string, ca: LocalCa, spiffeId: string): Promise<IssuedSvid> {
  const svid = await issueSvid(ca, spiffeId);
  await writeSvidFiles(dir, { certificatePem: svid.certificatePem, keyPem: svid.keyPem, bundlePem: ca.certificatePem });
  return svid;
}
