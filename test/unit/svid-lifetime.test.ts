import { describe, expect, it } from 'vitest';
import { halfLifeAt, isExpired, isPastHalfLife, svidLifetimeMs } from '../../shared/svid/lifetime';

const notBefore = new Date('2030-01-01T00:00:00Z');
const notAfter = new Date('2030-01-01T01:00:00Z');
const at = (iso: string) => new Date(iso);

describe('SVID lifetime', () => {
  it('measures the lifetime and its half-life', () => {
    expect(svidLifetimeMs({ notBefore, notAfter })).toBe(3_600_000);
    expect(halfLifeAt({ notBefore, notAfter })).toEqual(at('2030-01-01T00:30:00Z'));
    expect(svidLifetimeMs({ notBefore: notAfter, notAfter: notBefore })).toBe(0);
  });

  it('is past half-life from the half-life instant on', () => {
    expect(isPastHalfLife(notBefore, notAfter, at('2030-01-01T00:00:00Z'))).toBe(false);
    expect(isPastHalfLife(notBefore, notAfter, at('2030-01-01T00:29:59.999Z'))).toBe(false);
    expect(isPastHalfLife(notBefore, notAfter, at('2030-01-01T00:30:00Z'))).toBe(true);
    expect(isPastHalfLife(notBefore, notAfter, at('2030-01-01T02:00:00Z'))).toBe(true);
  });

  it('shows why a back-dated NotBefore must not drive renewal', () => {
    // ACM PCA's default NotBefore is issuance minus 60 minutes: a one-hour SVID issued at 01:00
    // would already be at its half-life the moment it is issued.
    expect(isPastHalfLife(notBefore, at('2030-01-01T02:00:00Z'), at('2030-01-01T01:00:00Z'))).toBe(true);
  });

  it('is expired at NotAfter', () => {
    expect(isExpired(notAfter, at('2030-01-01T00:59:59Z'))).toBe(false);
    expect(isExpired(notAfter, notAfter)).toBe(true);
  });
});
