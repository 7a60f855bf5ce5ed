/**
 * The revoked, not yet expired certificates every compiled auth policy denies, in the revocations
 * table (one item per serial). The policy sync records one when SvidRevoked arrives, every
 * compilation reads them all (a consistent Scan: the table only ever holds certificates still
 * inside their validity, at most a few hundred before the 10 KB policy quota is reached), and the
 * reconcile schedule deletes the ones past notAfter. DynamoDB's TTL (`expiresAt`) is only a
 * backstop: it deletes lazily, and every read filters by notAfter anyway.
 */
import { DeleteCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CompileSettings } from './compile';

export interface RevokedCertificate {
  /** Lowercase hex, as ACM Private CA and IAM Roles Anywhere (the role session name) spell it. */
  serialNumber: string;
  spiffeId: string;
  workloadId: string;
  reason: string;
  /** ISO 8601: the deny is needed until then; after it, the certificate gets no session anyway. */
  notAfter: string;
  revokedAt: string;
}

export interface RevocationStore {
  /** Idempotent: the same serial recorded twice is one item. */
  record(revoked: RevokedCertificate): Promise<void>;
  /** Every recorded certificate, expired or not, sorted by serial. */
  all(): Promise<RevokedCertificate[]>;
  remove(serialNumber: string): Promise<void>;
}

/** The certificates whose sessions must still be denied at `now`. */
export const unexpired = (revoked: readonly RevokedCertificate[], now: Date): RevokedCertificate[] =>
  revoked.filter((r) => Date.parse(r.notAfter) > now.getTime());

/** The serials the compiler denies at `now`, sorted and unique. */
export async function deniedSerials(store: RevocationStore, now: Date): Promise<string[]> {
  return [...new Set(unexpired(await store.all(), now).map((r) => r.serialNumber))].sort();
}

/** The compile settings with the serials denied now: what every compilation that judges the real policy uses (previews and size checks included). */
export async function compileSettingsNow(deps: { compile: CompileSettings; revocations?: RevocationStore; now?: () => Date }): Promise<CompileSettings> {
  if (deps.revocations === undefined) return deps.compile;
  return { ...deps.compile, revokedSerials: await deniedSerials(deps.revocations, deps.now ? deps.now() : new Date()) };
}

/** Deletes the records of certificates past notAfter; returns their serials. */
export async function dropExpired(store: RevocationStore, now: Date): Promise<string[]> {
  const expired = (await store.all()).filter((r) => Date.parse(r.notAfter) <= now.getTime());
  for (const r of expired) await store.remove(r.serialNumber);
  return expired.map((r) => r.serialNumber);
}

export class DynamoRevocationStore implements RevocationStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async record(revoked: RevokedCertificate): Promise<void> {
    // TTL a day after notAfter: a backstop for a reconcile that never runs.
    const expiresAt = Math.floor(Date.parse(revoked.notAfter) / 1000) + 86_400;
    await this.db.send(new PutCommand({ TableName: this.table, Item: { ...revoked, expiresAt } }));
  }

  async all(): Promise<RevokedCertificate[]> {
    const items: RevokedCertificate[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
      for (const item of out.Items ?? []) {
        items.push({
          serialNumber: String(item.serialNumber),
          spiffeId: String(item.spiffeId),
          workloadId: String(item.workloadId),
          reason: String(item.reason),
          notAfter: String(item.notAfter),
          revokedAt: String(item.revokedAt),
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items.sort((a, b) => (a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0));
  }

  async remove(serialNumber: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { serialNumber } }));
  }
}

/** For tests and the bench: the same contract in memory. */
export class InMemoryRevocationStore implements RevocationStore {
  private readonly items = new Map<string, RevokedCertificate>();

  async record(revoked: RevokedCertificate): Promise<void> {
    this.items.set(revoked.serialNumber, { ...revoked });
  }

  async all(): Promise<RevokedCertificate[]> {
    return [...this.items.values()].sort((a, b) => (a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0));
  }

  async remove(serialNumber: string): Promise<void> {
    this.items.delete(serialNumber);
  }
}
