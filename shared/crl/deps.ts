/**
 * What the CRL import takes: the CRL object store (S3 GetObject), the trust anchor's CRLs (Roles
 * Anywhere ImportCrl / UpdateCrl / EnableCrl / ListCrls), and where to put them; and the production
 * wiring, one client per process, endpoints from configuration.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EnableCrlCommand, ImportCrlCommand, ListCrlsCommand, RolesAnywhereClient, UpdateCrlCommand } from '@aws-sdk/client-rolesanywhere';
import { setting } from '../config';

export interface CrlObjects {
  get(bucket: string, key: string): Promise<Uint8Array>;
}

export interface ImportedCrl {
  crlId: string;
  name: string;
  trustAnchorArn: string;
  enabled: boolean;
}

/** The four Roles Anywhere calls the import makes. */
export interface TrustAnchorCrls {
  list(): Promise<ImportedCrl[]>;
  importCrl(input: { name: string; trustAnchorArn: string; crlData: Uint8Array; enabled: boolean }): Promise<ImportedCrl>;
  updateCrl(crlId: string, crlData: Uint8Array): Promise<void>;
  enableCrl(crlId: string): Promise<void>;
}

export interface CrlImportDeps {
  objects: CrlObjects;
  crls: TrustAnchorCrls;
  trustAnchorArn: string;
  crlName: string;
  /** The stage's CA: CRLs of other CAs in the account are not imported. */
  caArn: string;
  /** The CA's CRL bucket: where the CRL is read when the event names no object. */
  bucket: string;
}

export class S3CrlObjects implements CrlObjects {
  constructor(private readonly client: S3Client) {}

  async get(bucket: string, key: string): Promise<Uint8Array> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (out.Body === undefined) throw new Error(`s3://${bucket}/${key} has no body`);
    return out.Body.transformToByteArray();
  }
}

export class RolesAnywhereCrls implements TrustAnchorCrls {
  constructor(private readonly client: RolesAnywhereClient) {}

  async list(): Promise<ImportedCrl[]> {
    const out: ImportedCrl[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new ListCrlsCommand({ ...(nextToken === undefined ? {} : { nextToken }) }));
      for (const crl of page.crls ?? []) {
        if (crl.crlId !== undefined) out.push({ crlId: crl.crlId, name: crl.name ?? '', trustAnchorArn: crl.trustAnchorArn ?? '', enabled: crl.enabled === true });
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return out;
  }

  async importCrl(input: { name: string; trustAnchorArn: string; crlData: Uint8Array; enabled: boolean }): Promise<ImportedCrl> {
    const out = await this.client.send(new ImportCrlCommand(input));
    const crl = out.crl;
    if (crl?.crlId === undefined) throw new Error('ImportCrl returned no crlId');
    return { crlId: crl.crlId, name: crl.name ?? input.name, trustAnchorArn: crl.trustAnchorArn ?? input.trustAnchorArn, enabled: crl.enabled === true };
  }

  async updateCrl(crlId: string, crlData: Uint8Array): Promise<void> {
    await this.client.send(new UpdateCrlCommand({ crlId, crlData }));
  }

  async enableCrl(crlId: string): Promise<void> {
    await this.client.send(new EnableCrlCommand({ crlId }));
  }
}

export function crlImportDeps(): CrlImportDeps {
  const endpoint = setting('ROLES_ANYWHERE_ENDPOINT');
  return {
    objects: new S3CrlObjects(new S3Client({ forcePathStyle: setting('S3_FORCE_PATH_STYLE') })),
    crls: new RolesAnywhereCrls(new RolesAnywhereClient(endpoint === undefined ? {} : { endpoint })),
    trustAnchorArn: setting('CRL_TRUST_ANCHOR_ARN'),
    crlName: setting('CRL_NAME'),
    caArn: setting('PCA_CA_ARN'),
    bucket: setting('CRL_BUCKET'),
  };
}
