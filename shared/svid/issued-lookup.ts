/**
 * Finding certificates the CA issued for a request that never recorded one: the crash between
 * IssueCertificate answering and the issuer writing the certificate ARN, discovered after ACM PCA
 * has forgotten the idempotency token (about 5 minutes), when sending the same token again would
 * no longer return the same certificate.
 *
 * Real ACM PCA has no API that lists what a CA issued: only audit reports (written to S3,
 * asynchronously) and CloudTrail's IssueCertificate records (delivered minutes late) hold it
 * (docs/aws-behaviour.md, "ACM Private CA › Finding issued certificates"). So on AWS there is no
 * lookup (`undefined`), and the issuer, rather than risk a second certificate for one request,
 * ends such a request as failed with reason `issuance-unconfirmed`. Locally the ACM PCA stand-in
 * lists what it issued, and the lookup reads that list.
 */
import { logger } from '../logger';

export interface IssuedCertificateLookup {
  /** Serials (hex) of certificates issued for this SPIFFE ID with exactly this validity window. */
  find(query: { spiffeId: string; notBefore: Date; notAfter: Date }): Promise<string[]>;
}

interface ListedCertificate {
  serialHex: string;
  uris: string[];
  notBefore: string;
  notAfter: string;
  revoked: boolean;
}

const sameSecond = (a: string, b: Date): boolean => Math.floor(new Date(a).getTime() / 1000) === Math.floor(b.getTime() / 1000);

/** The local ACM PCA's listing (GET /_local/certificates?uri=…). */
export class LocalPcaListing implements IssuedCertificateLookup {
  constructor(private readonly url: string) {}

  async find(query: { spiffeId: string; notBefore: Date; notAfter: Date }): Promise<string[]> {
    const res = await fetch(`${this.url}?uri=${encodeURIComponent(query.spiffeId)}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`the local ACM PCA listing answered HTTP ${res.status}`);
    const listed = (await res.json()) as ListedCertificate[];
    const found = listed.filter((c) => !c.revoked && c.uris.includes(query.spiffeId) && sameSecond(c.notBefore, query.notBefore) && sameSecond(c.notAfter, query.notAfter)).map((c) => c.serialHex);
    if (found.length > 0) logger.info('certificates issued for an unrecorded request found in the CA listing', { serials: found });
    return found;
  }
}
