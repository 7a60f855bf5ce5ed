/**
 * The local Roles Anywhere's CRL API through the unchanged `@aws-sdk/client-rolesanywhere`
 * (ImportCrl, ListCrls, UpdateCrl, EnableCrl, DisableCrl) and what CreateSession makes of it: a
 * certificate listed by an ENABLED CRL gets no session; a disabled CRL, or one that no longer lists
 * it, does not refuse it; a CRL the trust anchor's CA did not sign is not imported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisableCrlCommand, EnableCrlCommand, ImportCrlCommand, ListCrlsCommand, RolesAnywhereClient, UpdateCrlCommand } from '@aws-sdk/client-rolesanywhere';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, importPrivateKeyPem, RolesAnywhereError } from '@trellis/client';
import { LocalCa } from '../../local/acm-pca/local-ca';
import { LOCAL_IDENTITY, LOCAL_REGION, startStandIns, type StandIns } from '../../local/stand-ins';
import { crlPem } from '../../shared/crl/import-crl';
import { issueSvid, type IssuedSvid } from './client-support';

let root: string;
let standIns: StandIns;
let client: RolesAnywhereClient;
let revoked: IssuedSvid;
let other: IssuedSvid;

const session = async (svid: IssuedSvid): Promise<unknown> =>
  createSession({
    endpoint: standIns.rolesAnywhere.endpoint,
    region: LOCAL_REGION,
    trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
    profileArn: LOCAL_IDENTITY.profileArn,
    roleArn: LOCAL_IDENTITY.workloadRoleArn,
    certificatePem: svid.certificatePem,
    privateKey: await importPrivateKeyPem(svid.keyPem, 'P-256'),
  }).then(
    () => 'ok',
    (error: unknown) => error,
  );

const crlOf = async (ca: LocalCa, serials: string[]): Promise<Uint8Array> =>
  crlPem(await ca.crl(serials.map((serialHex) => ({ serialHex, reason: 'KEY_COMPROMISE' as const, revokedAt: new Date() })), Date.now()));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-ra-crls-'));
  standIns = await startStandIns({ stateDir: root });
  client = new RolesAnywhereClient({ endpoint: standIns.rolesAnywhere.endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  revoked = await issueSvid(standIns.acmPca.ca, 'spiffe://example.org/service/orders');
  other = await issueSvid(standIns.acmPca.ca, 'spiffe://example.org/service/orders');
});

afterAll(async () => {
  client?.destroy();
  await standIns?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('local Roles Anywhere CRLs', () => {
  let crlId = '';

  it('ImportCrl (disabled) answers the CRL detail; CreateSession is not refused yet', async () => {
    const out = await client.send(new ImportCrlCommand({ name: 'trellis-test-ca', trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn, crlData: await crlOf(standIns.acmPca.ca, [revoked.serialHex]), enabled: false }));
    expect(out.crl).toMatchObject({ name: 'trellis-test-ca', trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn, enabled: false });
    expect(out.crl?.crlArn).toMatch(/^arn:aws:rolesanywhere:us-east-1:111122223333:crl\//);
    expect(out.crl?.createdAt).toBeInstanceOf(Date);
    crlId = out.crl?.crlId ?? '';
    expect(await session(revoked)).toBe('ok');
  });

  it('EnableCrl: the listed certificate is refused with AccessDeniedException, another certificate of the same SPIFFE ID is not', async () => {
    const out = await client.send(new EnableCrlCommand({ crlId }));
    expect(out.crl?.enabled).toBe(true);
    const refused = await session(revoked);
    expect(refused).toBeInstanceOf(RolesAnywhereError);
    expect((refused as RolesAnywhereError).code).toBe('AccessDeniedException');
    expect(await session(other)).toBe('ok');
  });

  it('UpdateCrl replaces the list; ListCrls shows the one CRL', async () => {
    await client.send(new UpdateCrlCommand({ crlId, crlData: await crlOf(standIns.acmPca.ca, [other.serialHex]) }));
    expect(await session(revoked)).toBe('ok');
    expect(await session(other)).toBeInstanceOf(RolesAnywhereError);
    const listed = await client.send(new ListCrlsCommand({}));
    expect(listed.crls?.map((c) => [c.crlId, c.enabled])).toEqual([[crlId, true]]);
  });

  it('DisableCrl stops enforcing it', async () => {
    await client.send(new DisableCrlCommand({ crlId }));
    expect(await session(other)).toBe('ok');
  });

  it('a CRL signed by another CA is refused with ValidationException', async () => {
    const foreign = await LocalCa.load(join(root, 'foreign-ca'));
    const error = await client
      .send(new ImportCrlCommand({ name: 'foreign', trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn, crlData: await crlOf(foreign, [revoked.serialHex]), enabled: true }))
      .catch((e: unknown) => e);
    expect((error as { name?: string }).name).toBe('ValidationException');
  });
});
