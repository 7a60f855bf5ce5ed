/**
 * The parameters of one IssueCertificate call, as pure functions: the validity window, the
 * idempotency token, and the subject and SANs set through API passthrough (never from the CSR).
 */
import { createHash } from 'node:crypto';
import type { ApiPassthrough } from '@aws-sdk/client-acm-pca';
import { DEFAULT_TUNING } from './tuning';

/** The validity of an SVID issued at `now`: whole seconds, lifetime exactly `ttlSeconds`. */
export function issuanceWindow(now: Date, ttlSeconds: number, skewSeconds = DEFAULT_TUNING.clockSkewSeconds): { notBefore: Date; notAfter: Date } {
  const notBefore = Math.floor(now.getTime() / 1000) - skewSeconds;
  return { notBefore: new Date(notBefore * 1000), notAfter: new Date((notBefore + ttlSeconds) * 1000) };
}

/**
 * IdempotencyToken (1–36 characters): derived from the request AND its claimed validity window,
 * so every delivery of one request sends the same token with the same parameters (AWS answers the
 * same certificate), while a window re-claimed after AWS forgot the token gets a new one.
 */
export function idempotencyToken(requestId: string, notBefore: Date): string {
  return createHash('sha256').update(`${requestId}|${notBefore.toISOString()}`).digest('hex').slice(0, 32);
}

/**
 * The certificate subject: CN = the last segment of the SPIFFE ID path (at most 64 characters,
 * the X.520 CommonName bound), e.g. `spiffe://example.org/service/orders` → `CN=orders`.
 * - Set through the API, never taken from the CSR: templates copy the CSR subject otherwise, and
 *   IAM Roles Anywhere turns the subject into principal tags (x509Subject/CN) and the session's
 *   source identity, so a workload must not choose it.
 * - Not empty: IAM Roles Anywhere does not accept certificates with an empty subject.
 * - Not the SPIFFE ID: that belongs in the URI SAN only (csr.ts refuses it in a CSR subject too),
 *   and a path may exceed 64 characters. The CN is for people and logs (Lattice hands it to the
 *   targets as x509SubjectCn); it is not unique and nothing authorises on it: policies match
 *   x509SAN/URI, the SPIFFE ID.
 */
export function svidCommonName(spiffeId: string): string {
  const path = spiffeId.replace(/^spiffe:\/\/[^/]+/, '');
  const last = path.split('/').filter((s) => s !== '').pop() ?? 'workload';
  return last.slice(0, 64);
}

/** ApiPassthrough: the subject and the SANs (the SPIFFE ID as the only URI, then the registered DNS names). */
export function svidApiPassthrough(spiffeId: string, dnsNames: readonly string[]): ApiPassthrough {
  return {
    Subject: { CommonName: svidCommonName(spiffeId) },
    Extensions: {
      SubjectAlternativeNames: [{ UniformResourceIdentifier: spiffeId }, ...dnsNames.map((DnsName) => ({ DnsName }))],
    },
  };
}
