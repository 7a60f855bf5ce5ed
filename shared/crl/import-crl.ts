/**
 * Import the CA's new CRL into the Roles Anywhere trust anchor (the target of the "ACM Private CA
 * CRL Generation" event): read the CRL object the event names from the CA's bucket, then ImportCrl
 * the first time (enabled), or UpdateCrl the CRL imported before under the same name; EnableCrl
 * either way, so a CRL someone disabled is enforced again. Roles Anywhere consults only imported
 * CRLs (docs/aws-behaviour.md, "IAM Roles Anywhere › Revocation in Roles Anywhere"). ACM Private
 * CA writes DER; the import sends PEM, the form the ImportCrl documentation asks for.
 */
import { logger } from '../logger';
import type { CrlImportDeps } from './deps';

export interface CrlGenerated {
  /** The event's `resources`: the CA ARN and the CRL object's S3 ARN. */
  resources: string[];
  detail: { result?: string };
}

export type CrlImportResult = { outcome: 'imported' | 'updated'; crlId: string; bucket: string; key: string } | { outcome: 'skipped'; reason: string };

/** The CRL object an event names: `arn:<partition>:s3:::<bucket>/<key>`, else `crl/<CA id>.crl` in the configured bucket. */
export function crlObjectOf(event: CrlGenerated, bucket: string): { bucket: string; key: string } | undefined {
  const s3 = event.resources.find((r) => /^arn:aws[a-z-]*:s3:::/.test(r));
  if (s3 !== undefined) {
    const path = s3.slice(s3.indexOf(':::') + 3);
    const slash = path.indexOf('/');
    if (slash > 0 && slash < path.length - 1) return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
  }
  const ca = event.resources.find((r) => r.includes(':certificate-authority/'));
  return ca === undefined ? undefined : { bucket, key: `crl/${ca.slice(ca.lastIndexOf('/') + 1)}.crl` };
}

/** DER → PEM ("X509 CRL"); PEM is passed as it is. */
export function crlPem(data: Uint8Array): Uint8Array {
  const text = Buffer.from(data).toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) return data;
  const lines = Buffer.from(data).toString('base64').match(/.{1,64}/g) ?? [];
  return new TextEncoder().encode(`-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`);
}

export async function importCaCrl(deps: CrlImportDeps, event: CrlGenerated): Promise<CrlImportResult> {
  if (event.detail.result !== undefined && event.detail.result !== 'success') return { outcome: 'skipped', reason: `CRL generation ${event.detail.result}` };
  if (!event.resources.includes(deps.caArn)) return { outcome: 'skipped', reason: `the CRL is not the stage CA's (${deps.caArn})` };
  const object = crlObjectOf(event, deps.bucket);
  if (object === undefined) return { outcome: 'skipped', reason: 'the event names no CA and no CRL object' };
  const crlData = crlPem(await deps.objects.get(object.bucket, object.key));
  const existing = (await deps.crls.list()).find((c) => c.trustAnchorArn === deps.trustAnchorArn && c.name === deps.crlName);
  let crlId: string;
  let outcome: 'imported' | 'updated';
  if (existing === undefined) {
    crlId = (await deps.crls.importCrl({ name: deps.crlName, trustAnchorArn: deps.trustAnchorArn, crlData, enabled: true })).crlId;
    outcome = 'imported';
  } else {
    crlId = existing.crlId;
    await deps.crls.updateCrl(crlId, crlData);
    outcome = 'updated';
  }
  await deps.crls.enableCrl(crlId);
  logger.info('CRL imported into the trust anchor', { outcome, crlId, bucket: object.bucket, key: object.key, trustAnchorArn: deps.trustAnchorArn });
  return { outcome, crlId, ...object };
}
