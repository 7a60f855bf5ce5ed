/**
 * Certificates the emulator issued and the revocations it recorded, in memory and (when given a
 * file) in an append-only JSON-lines log, so a restart with the same dataDir still answers
 * GetCertificate / RevokeCertificate for earlier certificates and never reuses their serials.
 */
import { appendFile, readFile } from 'node:fs/promises';

export const REVOCATION_REASONS = [
  'UNSPECIFIED',
  'KEY_COMPROMISE',
  'CERTIFICATE_AUTHORITY_COMPROMISE',
  'AFFILIATION_CHANGED',
  'SUPERSEDED',
  'CESSATION_OF_OPERATION',
  'PRIVILEGE_WITHDRAWN',
  'A_A_COMPROMISE',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface Revocation {
  readonly reason: RevocationReason;
  readonly revokedAt: Date;
}

export interface StoredCertificate {
  /** As in the certificate ARN: 32 lowercase hex digits. */
  readonly serialHex: string;
  readonly certificatePem: string;
  readonly issuedAt: Date;
  revocation: Revocation | undefined;
}

type LogLine =
  | { op: 'issue'; serialHex: string; certificatePem: string; issuedAt: string }
  | { op: 'revoke'; serialHex: string; reason: RevocationReason; revokedAt: string };

/**
 * One spelling per serial: colons dropped (RevokeCertificate accepts `67:07:44:…` as the AWS docs
 * show), lowercase, leading zeros dropped (openssl may print `0a:…` or `a…`).
 */
export function canonicalSerial(hex: string): string {
  const digits = hex.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  return digits === '' ? '0' : digits;
}

export class CertificateStore {
  private readonly bySerial = new Map<string, StoredCertificate>();
  private pending: Promise<void> = Promise.resolve();
  private writeError: unknown;

  private constructor(private readonly file: string | undefined) {}

  /** Opens the log at `file` (replaying it) or, without a file, an in-memory store. */
  static async open(file?: string): Promise<CertificateStore> {
    const store = new CertificateStore(file);
    if (file === undefined) return store;
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        continue; // a torn last line after a crash
      }
      if (entry.op === 'issue') {
        store.bySerial.set(canonicalSerial(entry.serialHex), {
          serialHex: entry.serialHex,
          certificatePem: entry.certificatePem,
          issuedAt: new Date(entry.issuedAt),
          revocation: undefined,
        });
      } else {
        const cert = store.bySerial.get(canonicalSerial(entry.serialHex));
        if (cert !== undefined) cert.revocation = { reason: entry.reason, revokedAt: new Date(entry.revokedAt) };
      }
    }
    return store;
  }

  private append(line: LogLine): void {
    const file = this.file;
    if (file === undefined) return;
    this.pending = this.pending.then(() =>
      appendFile(file, `${JSON.stringify(line)}\n`, { mode: 0o644 }).catch((err: unknown) => {
        this.writeError = err;
      }),
    );
  }

  add(serialHex: string, certificatePem: string, issuedAt: Date): StoredCertificate {
    const cert: StoredCertificate = { serialHex, certificatePem, issuedAt, revocation: undefined };
    this.bySerial.set(canonicalSerial(serialHex), cert);
    this.append({ op: 'issue', serialHex, certificatePem, issuedAt: issuedAt.toISOString() });
    return cert;
  }

  get(serialHex: string): StoredCertificate | undefined {
    return this.bySerial.get(canonicalSerial(serialHex));
  }

  /** Records a revocation; false when the certificate was already revoked. Throws nothing for unknown serials: check `get` first. */
  revoke(serialHex: string, reason: RevocationReason, revokedAt: Date): boolean {
    const cert = this.get(serialHex);
    if (cert === undefined || cert.revocation !== undefined) return false;
    cert.revocation = { reason, revokedAt };
    this.append({ op: 'revoke', serialHex: cert.serialHex, reason, revokedAt: revokedAt.toISOString() });
    return true;
  }

  revokedAtCa(serialHex: string): boolean {
    return this.get(serialHex)?.revocation !== undefined;
  }

  revoked(): StoredCertificate[] {
    return [...this.bySerial.values()].filter((c) => c.revocation !== undefined);
  }

  all(): StoredCertificate[] {
    return [...this.bySerial.values()];
  }

  serials(): string[] {
    return [...this.bySerial.values()].map((c) => c.serialHex);
  }

  /** Waits for every log write; rethrows the first write failure. */
  async flush(): Promise<void> {
    await this.pending;
    if (this.writeError !== undefined) throw this.writeError;
  }
}
