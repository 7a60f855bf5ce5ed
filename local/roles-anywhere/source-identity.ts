/**
 * The source identity IAM Roles Anywhere sets on a session. The principal tags and the session
 * name come from local/roles-anywhere/session-tags.ts (one derivation for Roles Anywhere, the Lattice
 * data plane's mTLS path and the tests), see sessionPrincipalFor in credentials.ts.
 */
import type { X509Certificate } from '../../shared/x509';

const COMMON_NAME_OID = '2.5.4.3';

/**
 * The session's source identity: the subject CN(s). The `CN=` prefix follows the docs'
 * `${sourceIdentityPrefix}${sourceIdentityValue}` (exact format UNCONFIRMED); undefined without a CN.
 */
export function sourceIdentityOf(cert: X509Certificate): string | undefined {
  const cns = cert.subjectName.getField(COMMON_NAME_OID);
  return cns.length === 0 ? undefined : `CN=${cns.join('/')}`;
}
