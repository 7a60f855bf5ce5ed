/**
 * The SVID directory a workload reads its identity from, in the layout SPIFFE helpers use:
 * `svid.pem` (the leaf certificate, then its chain), `svid-key.pem` (PKCS#8, mode 0600) and
 * `bundle.pem` (the trust bundle). Every file is replaced atomically (written to a temporary file in
 * the same directory, then renamed), so a reader never sees a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkloadEdgeError } from './edge-error';

export const SVID_FILE = 'svid.pem';
export const SVID_KEY_FILE = 'svid-key.pem';
export const BUNDLE_FILE = 'bundle.pem';

export interface SvidFiles {
  /** The leaf certificate, then the intermediates (PEM blocks concatenated). */
  certificatePem: string;
  /** The private key, PKCS#8 PEM. */
  keyPem: string;
  /** The trust bundle: the CA certificates that SVIDs of this trust domain chain to. */
  bundlePem: string;
}

/** Writes `content` to `path` through a temporary file and a rename (atomic on POSIX file systems). */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await chmod(temporary, mode); // the umask may have narrowed or widened nothing; make the mode exact
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Writes the three files. The key goes first: a reader that sees a new `svid.pem` finds its key
 * already there. (A reader between the two renames may pair the new key with the old certificate;
 * readers check that key and certificate match and read again, see readSvidFiles.)
 */
export async function writeSvidFiles(dir: string, files: SvidFiles): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFileAtomic(join(dir, SVID_KEY_FILE), files.keyPem, 0o600);
  await writeFileAtomic(join(dir, SVID_FILE), files.certificatePem, 0o644);
  await writeFileAtomic(join(dir, BUNDLE_FILE), files.bundlePem, 0o644);
}

/** Reads the three files as they are; a missing file is a WorkloadEdgeError naming it. */
export async function readSvidFiles(dir: string): Promise<SvidFiles> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new WorkloadEdgeError('SvidFilesMissing', `${join(dir, name)} does not exist`, `fetch the SVID first: trellis svid fetch --spiffe-id <id> --out ${dir}`, { cause: error });
      }
      throw error;
    }
  };
  const [certificatePem, keyPem, bundlePem] = await Promise.all([read(SVID_FILE), read(SVID_KEY_FILE), read(BUNDLE_FILE)]);
  return { certificatePem, keyPem, bundlePem };
}
