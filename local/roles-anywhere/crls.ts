/**
 * The CRLs imported into the local Roles Anywhere's trust anchor, on its REST API as the service
 * has them (docs/aws-behaviour.md, "IAM Roles Anywhere › Revocation in Roles Anywhere"), so
 * `@aws-sdk/client-rolesanywhere` works against it unchanged: ImportCrl `POST /crls`, ListCrls
 * `GET /crls`, UpdateCrl `PATCH /crl/{crlId}`, EnableCrl / DisableCrl `POST /crl/{crlId}/enable|disable`,
 * each answering `{crl: CrlDetail}` (ListCrls `{crls}`), `crlData` base64 in JSON. A CRL must be
 * signed by a trust anchor certificate (checked at import and update); CreateSession refuses a
 * certificate an ENABLED CRL lists. In memory: a restart forgets them (the CRL import runs again on
 * the CA's next CRL).
 */
import { randomUUID } from 'node:crypto';
import { PemConverter, X509Certificate, X509Crl } from '../../shared/x509';
import type { AwsAnswer } from './create-session';

export interface CrlRecord {
  crlId: string;
  crlArn: string;
  name: string;
  trustAnchorArn: string;
  enabled: boolean;
  /** As imported (PEM or DER bytes). */
  crlData: Buffer;
  crl: X509Crl;
  createdAt: string;
  updatedAt: string;
}

const error = (status: number, errorType: string, message: string): AwsAnswer => ({ status, errorType, body: { message } });
const validation = (message: string): AwsAnswer => error(400, 'ValidationException', message);

function parseCrl(data: Buffer): X509Crl | undefined {
  try {
    const text = data.toString('latin1');
    if (text.includes('-----BEGIN X509 CRL-----')) {
      const [der] = PemConverter.decode(text);
      return der === undefined ? undefined : new X509Crl(der);
    }
    return new X509Crl(new Uint8Array(data));
  } catch {
    return undefined;
  }
}

export class CrlStore {
  private readonly records = new Map<string, CrlRecord>();

  constructor(
    private readonly options: { region: string; accountId: string; partition: string; trustAnchorArn: string; trustAnchors: () => string[]; now: () => Date },
  ) {}

  /** The enabled CRL that lists this certificate (issued by its issuer), if any. */
  revokedBy(cert: X509Certificate): CrlRecord | undefined {
    for (const record of this.records.values()) {
      if (!record.enabled || record.crl.issuer !== cert.issuer) continue;
      if (record.crl.findRevoked(cert) !== null) return record;
    }
    return undefined;
  }

  list(): CrlRecord[] {
    return [...this.records.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  /** Whether a trust anchor certificate signed the CRL. */
  private async signedByAnchor(crl: X509Crl): Promise<boolean> {
    for (const pem of this.options.trustAnchors()) {
      for (const der of PemConverter.decode(pem)) {
        const anchor = new X509Certificate(der);
        if (anchor.subject !== crl.issuer) continue;
        if (await crl.verify({ publicKey: anchor.publicKey }).catch(() => false)) return true;
      }
    }
    return false;
  }

  private detail(record: CrlRecord): Record<string, unknown> {
    return {
      crlId: record.crlId,
      crlArn: record.crlArn,
      name: record.name,
      trustAnchorArn: record.trustAnchorArn,
      enabled: record.enabled,
      crlData: record.crlData.toString('base64'),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }

  private async checkedCrl(raw: unknown): Promise<{ data: Buffer; crl: X509Crl } | AwsAnswer> {
    if (typeof raw !== 'string' || raw === '') return validation('crlData is required (base64 of the CRL)');
    const data = Buffer.from(raw, 'base64');
    if (data.length === 0 || data.length > 300_000) return validation('crlData must be 1 to 300000 bytes');
    const crl = parseCrl(data);
    if (crl === undefined) return validation('crlData is not an X.509 CRL (PEM or DER)');
    if (!(await this.signedByAnchor(crl))) return validation('the CRL is not signed by the trust anchor\'s CA');
    return { data, crl };
  }

  /** Routes /crls and /crl/{id}[/enable|/disable]; undefined for any other path. */
  async handle(method: string, path: string, body: Record<string, unknown> | undefined): Promise<AwsAnswer | undefined> {
    const now = this.options.now().toISOString();
    if (path === '/crls') {
      if (method === 'GET') return { status: 200, body: { crls: this.list().map((r) => this.detail(r)) } };
      if (method !== 'POST') return error(405, 'MethodNotAllowedException', 'use GET or POST /crls');
      if (body === undefined) return validation('the request body must be a JSON object');
      if (typeof body.name !== 'string' || body.name === '') return validation('name is required');
      if (body.trustAnchorArn !== this.options.trustAnchorArn) return error(404, 'ResourceNotFoundException', `unknown trust anchor ${String(body.trustAnchorArn)}`);
      const checked = await this.checkedCrl(body.crlData);
      if ('status' in checked) return checked;
      const crlId = randomUUID();
      const record: CrlRecord = {
        crlId,
        crlArn: `arn:${this.options.partition}:rolesanywhere:${this.options.region}:${this.options.accountId}:crl/${crlId}`,
        name: body.name,
        trustAnchorArn: this.options.trustAnchorArn,
        enabled: body.enabled === true,
        crlData: checked.data,
        crl: checked.crl,
        createdAt: now,
        updatedAt: now,
      };
      this.records.set(crlId, record);
      return { status: 201, body: { crl: this.detail(record) } };
    }
    const match = /^\/crl\/([^/]+)(\/enable|\/disable)?$/.exec(path);
    if (!match) return undefined;
    const record = this.records.get(decodeURIComponent(match[1] as string));
    if (record === undefined) return error(404, 'ResourceNotFoundException', `no CRL ${match[1] as string}`);
    const action = match[2];
    if (action !== undefined) {
      if (method !== 'POST') return error(405, 'MethodNotAllowedException', `use POST ${path}`);
      record.enabled = action === '/enable';
      record.updatedAt = now;
      return { status: 200, body: { crl: this.detail(record) } };
    }
    if (method === 'GET') return { status: 200, body: { crl: this.detail(record) } };
    if (method === 'DELETE') {
      this.records.delete(record.crlId);
      return { status: 200, body: { crl: this.detail(record) } };
    }
    if (method !== 'PATCH') return error(405, 'MethodNotAllowedException', `use GET, PATCH or DELETE ${path}`);
    if (body === undefined) return validation('the request body must be a JSON object');
    if (body.crlData !== undefined) {
      const checked = await this.checkedCrl(body.crlData);
      if ('status' in checked) return checked;
      record.crlData = checked.data;
      record.crl = checked.crl;
    }
    if (typeof body.name === 'string' && body.name !== '') record.name = body.name;
    record.updatedAt = now;
    return { status: 200, body: { crl: this.detail(record) } };
  }
}
