/**
 * Opaque pagination tokens: the DynamoDB LastEvaluatedKey, base64url JSON, with an HMAC so a
 * tampered or foreign token is refused (400) rather than silently paging from somewhere else.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TrellisError } from '../errors';

const invalid = (): TrellisError => new TrellisError('InvalidNextToken', 400, 'nextToken is not a token this API issued for this listing; start again without it');

export function encodePageToken(key: Record<string, unknown>, secret: string, scope: string): string {
  const payload = Buffer.from(JSON.stringify(key)).toString('base64url');
  const mac = createHmac('sha256', secret).update(`${scope}.${payload}`).digest('base64url');
  return `${payload}.${mac}`;
}

export function decodePageToken(token: string, secret: string, scope: string): Record<string, unknown> {
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined) throw invalid();
  const expected = createHmac('sha256', secret).update(`${scope}.${payload}`).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  try {
    const key = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid();
    return key as Record<string, unknown>;
  } catch {
    throw invalid();
  }
}

export function parseLimit(raw: string | undefined, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new TrellisError('ValidationFailed', 400, `limit must be a whole number from 1 to ${max}`, {
      details: [{ field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${max}` }],
    });
  }
  return Number(raw);
}

/** A listing's page size (`limit`, 1..max, default `fallback`) and where to start (`nextToken`). */
export function readPage(query: Record<string, string>, secret: string, scope: string, bounds: { max: number; fallback: number }): { limit: number; start: Record<string, unknown> | undefined } {
  return {
    limit: parseLimit(query.limit, bounds.max, bounds.fallback),
    start: query.nextToken ? decodePageToken(query.nextToken, secret, scope) : undefined,
  };
}

/** A listing's body: the items, and a `nextToken` (valid only for this listing) when more follow. */
export function pageBody<T>(items: T[], lastKey: Record<string, unknown> | undefined, secret: string, scope: string): { items: T[]; nextToken?: string } {
  return { items, ...(lastKey ? { nextToken: encodePageToken(lastKey, secret, scope) } : {}) };
}
