import type { webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  Pkcs10CertificateRequest,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509Certificate,
  X509CertificateGenerator,
  type JsonGeneralName,
} from '../../shared/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, signingParamsFor, type KeyAlgorithm } from '@trellis/client';
import { createSession, RolesAnywhereError, type CreateSessionInput } from '@trellis/client';
import type { FetchLike } from '@trellis/client';
import { join } from 'node:path';
import { startRolesAnywhere, type RolesAnywhereHandle } from '../../local/roles-anywhere/server';
import { workloadRoleTagConditions } from '../../local/serverless-config';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/trellis/trellis-workload`;
const PROFILE_ARN = `arn:aws:rolesanywhere:${REGION}:${ACCOUNT}:profile/6f0e4b51-1d2c-4f7a-9d2b-0a1b2c3d4e5f`;
const TRUST_ANCHOR_ARN = `arn:aws:rolesanywhere:${REGION}:${ACCOUNT}:trust-anchor/0b3c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4`;
const ORDERS = 'spiffe://example.org/service/orders';
const HOUR = 3600_000;

interface Pki {
  keys: CryptoKeyPair;
  cert: X509Certificate;
}

async function makeCa(name: string, algorithm: KeyAlgorithm = 'P-256', issuer?: Pki): Promise<Pki> {
  const keys = await generateKeyPair(algorithm);
  const extensions = [new BasicConstraintsExtension(true, undefined, true), new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true)];
  const validity = { notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + 24 * HOUR) };
  const cert =
    issuer === undefined
      ? await X509CertificateGenerator.createSelfSigned({ name, keys, signingAlgorithm: signingParamsFor(keys.privateKey), extensions, ...validity })
      : await X509CertificateGenerator.create({
          subject: name,
          issuer: issuer.cert.subject,
          publicKey: keys.publicKey,
          signingKey: issuer.keys.privateKey,
          signingAlgorithm: signingParamsFor(issuer.keys.privateKey),
          extensions,
          ...validity,
        });
  return { keys, cert };
}

interface LeafOptions {
  algorithm?: KeyAlgorithm;
  subject?: string;
  sans?: JsonGeneralName[];
  serialNumber?: string;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
}

async function makeLeaf(issuer: Pki, options: LeafOptions = {}): Promise<Pki> {
  const keys = await generateKeyPair(options.algorithm ?? 'P-256');
  const cert = await X509CertificateGenerator.create({
    serialNumber: options.serialNumber ?? '7a1b2c3d4e5f60718293a4b5c6d7e8f9',
    subject: options.subject ?? 'CN=orders',
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signingParamsFor(issuer.keys.privateKey),
    notBefore: options.notBefore ?? new Date(Date.now() - 5 * 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + HOUR),
    extensions: [
      new BasicConstraintsExtension(options.ca ?? false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true),
      new SubjectAlternativeNameExtension(options.sans ?? [{ type: 'url', value: ORDERS }]),
    ],
  });
  return { keys, cert };
}

/** A fetch that records the raw answer and may rewrite the request headers first. */
function recordingFetch(rewrite?: (headers: Record<string, string>) => void): FetchLike & { last?: { status: number; headers: Record<string, string>; body: string } } {
  const impl: FetchLike & { last?: { status: number; headers: Record<string, string>; body: string } } = async (url, init) => {
    const headers = { ...init.headers };
    rewrite?.(headers);
    const res = await fetch(url, { method: init.method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
    const body = await res.text();
    const recorded: Record<string, string> = {};
    res.headers.forEach((v, k) => (recorded[k] = v));
    impl.last = { status: res.status, headers: recorded, body };
    return { status: res.status, headers: res.headers, text: async () => body };
  };
  return impl;
}

describe('local IAM Roles Anywhere CreateSession', () => {
  let root: Pki;
  let intermediate: Pki;
  let foreign: Pki;
  let ra: RolesAnywhereHandle;
  const logLines: Array<Record<string, unknown>> = [];

  const input = (leaf: Pki, extra: Partial<CreateSessionInput> = {}): CreateSessionInput => ({
    endpoint: ra.endpoint,
    region: REGION,
    trustAnchorArn: TRUST_ANCHOR_ARN,
    profileArn: PROFILE_ARN,
    roleArn: ROLE_ARN,
    certificatePem: leaf.cert.toString('pem'),
    privateKey: leaf.keys.privateKey,
    ...extra,
  });

  const rejection = async (promise: Promise<unknown>): Promise<RolesAnywhereError> => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RolesAnywhereError);
    return err as RolesAnywhereError;
  };

  beforeAll(async () => {
    root = await makeCa('CN=Trellis Test CA, OU=Security, OU=Engineering, O=Example Corp');
    intermediate = await makeCa('CN=Trellis Intermediate, OU=Workloads', 'RSA-2048', root);
    foreign = await makeCa('CN=Trellis Test CA, OU=Security, OU=Engineering, O=Example Corp');
    ra = await startRolesAnywhere({
      region: REGION,
      roleArn: ROLE_ARN,
      profileArn: PROFILE_ARN,
      trustAnchorArn: TRUST_ANCHOR_ARN,
      trustAnchors: () => [root.cert.toString('pem')],
      log: (entry) => logLines.push(entry),
    });
  });

  afterAll(async () => {
    await ra.stop();
  });

  it('issues a session for an ECDSA P-256 leaf, with the assumed-role ARN and principal tags of the certificate', async () => {
    const leaf = await makeLeaf(root);
    const recorder = recordingFetch();
    const before = Date.now();
    const creds = await createSession(input(leaf, { fetchImpl: recorder }));

    expect(creds.assumedRoleArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/trellis-workload/7a1b2c3d4e5f60718293a4b5c6d7e8f9`);
    expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(creds.sourceIdentity).toBe('CN=orders');
    expect(Math.abs(creds.expiration.getTime() - (before + HOUR))).toBeLessThan(5_000);

    // The wire answer, as Roles Anywhere writes it.
    expect(recorder.last?.status).toBe(201);
    expect(recorder.last?.headers['content-type']).toBe('application/json');
    const wire = JSON.parse(recorder.last?.body ?? '{}') as { credentialSet: Array<Record<string, unknown>>; subjectArn: string };
    expect(wire.subjectArn).toMatch(new RegExp(`^arn:aws:rolesanywhere:${REGION}:${ACCOUNT}:subject/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    expect(wire.credentialSet).toHaveLength(1);
    expect(wire.credentialSet[0]).toMatchObject({
      assumedRoleUser: { arn: creds.assumedRoleArn, assumedRoleId: expect.stringMatching(/^AROA[A-Z2-7]{17}:7a1b2c3d4e5f60718293a4b5c6d7e8f9$/) },
      credentials: { accessKeyId: creds.accessKeyId, sessionToken: creds.sessionToken, expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
      roleArn: ROLE_ARN,
      sourceIdentity: 'CN=orders',
      packedPolicySize: expect.any(Number),
    });

    const session = ra.credentials.lookup(creds.accessKeyId);
    expect(session).toMatchObject({
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      principalArn: creds.assumedRoleArn,
      roleArn: ROLE_ARN,
      sessionName: '7a1b2c3d4e5f60718293a4b5c6d7e8f9',
      trustAnchorArn: TRUST_ANCHOR_ARN,
    });
    expect(session?.expiration.getTime()).toBe(creds.expiration.getTime());
    expect(session?.tags).toEqual({
      'x509Subject/CN': 'orders',
      'x509Issuer/CN': 'Trellis Test CA',
      'x509Issuer/OU': 'Security/Engineering',
      'x509Issuer/O': 'Example Corp',
      'x509SAN/URI': ORDERS,
    });
  });

  it('issues a session for an RSA-2048 leaf under an intermediate sent in X-Amz-X509-Chain, mapping only the first SAN of each type', async () => {
    const leaf = await makeLeaf(intermediate, {
      algorithm: 'RSA-2048',
      serialNumber: '00ff01',
      subject: 'CN=billing, OU=Payments, OU=Core, C=US',
      sans: [
        { type: 'url', value: 'spiffe://example.org/service/billing' },
        { type: 'dns', value: 'billing.example.org' },
        { type: 'url', value: 'spiffe://example.org/second' },
        { type: 'dns', value: 'second.example.org' },
        { type: 'dn', value: 'CN=billing-dir, OU=Dir' },
        { type: 'email', value: 'billing@example.org' },
      ],
    });
    const creds = await createSession(input(leaf, { chainPems: [intermediate.cert.toString('pem')], durationSeconds: 900 }));

    expect(creds.assumedRoleArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/trellis-workload/ff01`);
    expect(Math.abs(creds.expiration.getTime() - (Date.now() + 900_000))).toBeLessThan(5_000);
    expect(ra.credentials.lookup(creds.accessKeyId)?.tags).toEqual({
      'x509Subject/CN': 'billing',
      'x509Subject/OU': 'Payments/Core',
      'x509Subject/C': 'US',
      'x509Issuer/CN': 'Trellis Intermediate',
      'x509Issuer/OU': 'Workloads',
      'x509SAN/URI': 'spiffe://example.org/service/billing',
      'x509SAN/DNS': 'billing.example.org',
      'x509SAN/Name/CN': 'billing-dir',
      'x509SAN/Name/OU': 'Dir',
    });
  });

  it('issues a session for a P-384 leaf whose key was round-tripped through a PKCS#8 PEM', async () => {
    const leaf = await makeLeaf(root, { algorithm: 'P-384', serialNumber: '0c0d' });
    const imported = await importPrivateKeyPem(await exportPrivateKeyPem(leaf.keys.privateKey), 'P-384');
    const creds = await createSession({ ...input(leaf), privateKey: imported });
    expect(creds.assumedRoleArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/trellis-workload/0c0d`); // the serial's DER bytes in hex (local/roles-anywhere/session-tags.ts)
  });

  it('accepts the three ARNs in the JSON body instead of the query string', async () => {
    const leaf = await makeLeaf(root, { serialNumber: '0102' });
    const creds = await createSession(input(leaf, { arnsInBody: true }));
    expect(creds.assumedRoleArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/trellis-workload/0102`);
  });

  it('accepts an empty-subject SVID but logs a warning (real Roles Anywhere refuses those)', async () => {
    logLines.length = 0;
    const leaf = await makeLeaf(root, { subject: '', serialNumber: '0a0b' });
    const creds = await createSession(input(leaf));
    expect(creds.sourceIdentity).toBeUndefined();
    expect(ra.credentials.lookup(creds.accessKeyId)?.tags).toEqual({
      'x509Issuer/CN': 'Trellis Test CA',
      'x509Issuer/OU': 'Security/Engineering',
      'x509Issuer/O': 'Example Corp',
      'x509SAN/URI': ORDERS,
    });
    expect(logLines).toContainEqual(expect.objectContaining({ level: 'WARN', message: expect.stringContaining('empty subject') }));
  });

  it('refuses a leaf from a foreign CA with the same name (403 AccessDeniedException)', async () => {
    const leaf = await makeLeaf(foreign);
    const err = await rejection(createSession(input(leaf)));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain('does not chain to the trust anchor');
  });

  it('refuses an intermediate-issued leaf when the intermediate is not sent', async () => {
    const leaf = await makeLeaf(intermediate);
    const err = await rejection(createSession(input(leaf)));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain('does not chain to the trust anchor');
  });

  it('refuses an expired leaf', async () => {
    const leaf = await makeLeaf(root, { notBefore: new Date(Date.now() - 2 * HOUR), notAfter: new Date(Date.now() - HOUR) });
    const err = await rejection(createSession(input(leaf)));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain('not valid now');
  });

  it('refuses a CA certificate used as the authenticating certificate', async () => {
    const leaf = await makeLeaf(root, { ca: true });
    const err = await rejection(createSession(input(leaf)));
    expect(err.message).toContain('not an end entity');
  });

  it('refuses a tampered signature', async () => {
    const leaf = await makeLeaf(root);
    const tamper = recordingFetch((h) => {
      const auth = h.authorization ?? '';
      h.authorization = auth.slice(0, -6) + (auth.endsWith('000000') ? '111111' : '000000');
    });
    const err = await rejection(createSession(input(leaf, { fetchImpl: tamper })));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain('signature does not match');
  });

  it('refuses a request whose signed header was changed after signing', async () => {
    const leaf = await makeLeaf(root);
    const tamper = recordingFetch((h) => {
      h['content-type'] = 'application/x-amz-json-1.1';
    });
    const err = await rejection(createSession(input(leaf, { fetchImpl: tamper })));
    expect(err.message).toContain('signature does not match');
  });

  it('refuses a Credential whose serial is not the certificate serial in decimal', async () => {
    const leaf = await makeLeaf(root);
    const decimal = BigInt('0x7a1b2c3d4e5f60718293a4b5c6d7e8f9').toString(10);
    const wrongSerial = recordingFetch((h) => {
      expect(h.authorization).toContain(`Credential=${decimal}/`);
      h.authorization = (h.authorization ?? '').replace(`Credential=${decimal}/`, 'Credential=7a1b2c3d4e5f60718293a4b5c6d7e8f9/');
    });
    const err = await rejection(createSession(input(leaf, { fetchImpl: wrongSerial })));
    expect(err.message).toContain('serial number does not match');
  });

  it('refuses a request signed more than 5 minutes ago', async () => {
    const leaf = await makeLeaf(root);
    const err = await rejection(createSession(input(leaf, { signingDate: new Date(Date.now() - 6 * 60_000) })));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain('Signature expired');
  });

  it('refuses ARNs other than the configured ones', async () => {
    const leaf = await makeLeaf(root);
    const err = await rejection(createSession(input(leaf, { roleArn: `arn:aws:iam::${ACCOUNT}:role/admin` })));
    expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err.message).toContain("is not one of the profile's roles");
    const err2 = await rejection(createSession(input(leaf, { trustAnchorArn: TRUST_ANCHOR_ARN.replace('0b3c', '9999') })));
    expect(err2).toMatchObject({ status: 403, code: 'AccessDeniedException' });
    expect(err2.message).toContain('unknown or disabled trust anchor');
    const err3 = await rejection(createSession(input(leaf, { profileArn: `${PROFILE_ARN}0` })));
    expect(err3.message).toContain('unknown or disabled profile');
  });

  it('answers 400 ValidationException for durationSeconds outside 900..43200', async () => {
    const leaf = await makeLeaf(root);
    await expect(createSession(input(leaf, { durationSeconds: 899 }))).rejects.toMatchObject({ status: 400, code: 'ValidationException' });
    await expect(createSession(input(leaf, { durationSeconds: 43_201 }))).rejects.toMatchObject({ status: 400, code: 'ValidationException' });
    const max = await createSession(input(leaf, { durationSeconds: 43_200 }));
    expect(Math.abs(max.expiration.getTime() - (Date.now() + 43_200_000))).toBeLessThan(5_000);
  });
});

describe('local IAM Roles Anywhere with a fake clock', () => {
  it('issues credentials that expire on the injected clock', async () => {
    const root = await makeCa('CN=Clock CA');
    const leaf = await makeLeaf(root);
    let now = new Date(Date.now() + 10 * 60_000);
    const ra = await startRolesAnywhere({
      roleArn: ROLE_ARN,
      profileArn: PROFILE_ARN,
      trustAnchorArn: TRUST_ANCHOR_ARN,
      trustAnchors: () => [root.cert.toString('pem')],
      now: () => now,
    });
    try {
      const creds = await createSession({
        endpoint: ra.endpoint,
        region: 'us-east-1',
        trustAnchorArn: TRUST_ANCHOR_ARN,
        profileArn: PROFILE_ARN,
        roleArn: ROLE_ARN,
        certificatePem: leaf.cert.toString('pem'),
        privateKey: leaf.keys.privateKey,
        durationSeconds: 900,
        signingDate: now,
      });
      expect(creds.expiration.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000 + 900_000);
      now = new Date(now.getTime() + 901_000);
      expect(ra.credentials.lookup(creds.accessKeyId)?.expiration.getTime()).toBeLessThan(now.getTime());
    } finally {
      await ra.stop();
    }
  });
});

describe('workload keys and CSRs', () => {
  it.each(['P-256', 'P-384', 'RSA-2048'] as const)('creates a %s key pair and a self-signed CSR carrying the SPIFFE ID and CN', async (algorithm) => {
    const keys = await generateKeyPair(algorithm);
    const pem = await createCsr({ keys, spiffeId: ORDERS, commonName: 'orders' });
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    const csr = new Pkcs10CertificateRequest(pem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe('CN=orders');
    const san = csr.extensions.find((e): e is SubjectAlternativeNameExtension => e instanceof SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: 'url', value: ORDERS }]);
    expect(csr.publicKey.algorithm.name).toBe(algorithm === 'RSA-2048' ? 'RSASSA-PKCS1-v1_5' : 'ECDSA');
  });

  it('creates a CSR with an empty subject when no CN is given', async () => {
    const csr = new Pkcs10CertificateRequest(await createCsr({ keys: await generateKeyPair('P-256'), spiffeId: ORDERS }));
    expect(csr.subject).toBe('');
    expect(await csr.verify()).toBe(true);
  });
});

// The workload role's trust policy (serverless.yml WorkloadRole) requires aws:PrincipalTag/x509SAN/URI
// StringLike spiffe://<trust domain>/*: the local Roles Anywhere enforces the conditions it reads there.
describe('local IAM Roles Anywhere and the workload role trust policy', () => {
  let root: Pki;
  let ra: RolesAnywhereHandle;
  const conditions = workloadRoleTagConditions(join(import.meta.dirname, '..', '..', 'serverless.yml'), 'local');
  const input = (leaf: Pki): CreateSessionInput => ({ endpoint: ra.endpoint, region: REGION, trustAnchorArn: TRUST_ANCHOR_ARN, profileArn: PROFILE_ARN, roleArn: ROLE_ARN, certificatePem: leaf.cert.toString('pem'), privateKey: leaf.keys.privateKey });

  beforeAll(async () => {
    root = await makeCa('CN=Trellis Test CA');
    ra = await startRolesAnywhere({ region: REGION, roleArn: ROLE_ARN, profileArn: PROFILE_ARN, trustAnchorArn: TRUST_ANCHOR_ARN, trustAnchors: () => [root.cert.toString('pem')], roleTagConditions: conditions });
  });
  afterAll(async () => {
    await ra.stop();
  });

  it('reads the condition from the template', () => {
    expect(conditions).toEqual([{ key: 'x509SAN/URI', pattern: 'spiffe://example.org/*' }]);
  });

  it('gives an SVID of the trust domain a session, and no session to another certificate of the same CA', async () => {
    await expect(createSession(input(await makeLeaf(root)))).resolves.toBeDefined();
    for (const sans of [[{ type: 'url', value: 'spiffe://other.org/service/orders' }], [{ type: 'url', value: 'https://example.org/service/orders' }], [{ type: 'dns', value: 'orders.example.org' }]] as JsonGeneralName[][]) {
      const err = await createSession(input(await makeLeaf(root, { sans }))).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(sans)).toBeInstanceOf(RolesAnywhereError);
      expect(err).toMatchObject({ status: 403, code: 'AccessDeniedException' });
      expect((err as Error).message).toContain('aws:PrincipalTag/x509SAN/URI');
    }
  });
});
