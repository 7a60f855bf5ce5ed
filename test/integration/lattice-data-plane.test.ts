import { request as httpsRequest } from 'node:https';
/**
 * The local Lattice data plane end to end in the test process: SVIDs signed by the local ACM PCA's CA,
 * Roles Anywhere credentials from the local CreateSession (@trellis/client, client/), auth policies compiled from
 * the reference grants and put through the real VPC Lattice SDK client, requests over real HTTPS to the
 * data plane, Billing and Rates run in-process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutAuthPolicyCommand, UpdateServiceCommand, VPCLatticeClient } from '@aws-sdk/client-vpc-lattice';
import { X509Certificate } from '../../shared/x509';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalCa } from '../../local/acm-pca/local-ca';
import { DATA_PLANE_CA_FILE } from '../../local/lattice/data-plane-tls';
import { DECISION_LOG_MESSAGE } from '../../local/lattice/data-plane';
import { encodeBody, httpAnswerFromTarget, latticeEvent, timeEpochMicros } from '../../local/lattice/data-plane-request';
import { LOCAL_IDENTITY } from '../../local/stand-ins';
import { mtlsFetch } from '@trellis/client';
import { createSession, RolesAnywhereError } from '@trellis/client';
import { signedFetch, signLatticeRequest } from '@trellis/client';
import { sendHttp } from '@trellis/client';
import { Workload, type RolesAnywhereSettings } from '@trellis/client';
import { CALLER_IDENTITY_LOG } from '../../shared/lattice/target-handler';
import { parseLatticeEvent } from '../../shared/lattice/target-event';
import { logger } from '../../shared/logger';
import { compilePolicy, type Grant } from '../../shared/policy/compiler';
import { startInProcessStack, type InProcessStack } from '../support/in-process-stack';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const ORDERS = 'spiffe://example.org/service/orders';
const REVIEWS = 'spiffe://example.org/service/reviews';
const ROLE_NAME = 'trellis-local-workload';

const REFERENCE_GRANTS: Record<'billing' | 'rates', Grant[]> = {
  billing: [{ id: 'g-orders-billing', caller: ORDERS }],
  rates: [
    { id: 'g-orders-rates', caller: ORDERS },
    { id: 'g-reviews-rates', caller: REVIEWS },
  ],
};

let stack: InProcessStack;
let lattice: VPCLatticeClient;
let ca: LocalCa;
let foreignCa: LocalCa;
let foreignDir: string;
let tlsCa: string;
let urls: Record<string, string>;
let ra: RolesAnywhereSettings;
let clockOffsetMs = 0;
const decisions: Record<string, unknown>[] = [];
const agent = new Agent({ keepAlive: true });
let orders: Workload;
let reviews: Workload;

const serviceArn = (name: string): string => {
  const service = stack.standIns.lattice.store.getServiceByName(name);
  if (service === undefined) throw new Error(`no service ${name}`);
  return service.arn;
};

const putPolicy = async (service: 'billing' | 'rates', grants: Grant[]): Promise<void> => {
  const { policy } = compilePolicy(grants, { serviceArn: serviceArn(service), principalArn: LOCAL_IDENTITY.workloadRoleArn, trustDomain: 'example.org' });
  await lattice.send(new PutAuthPolicyCommand({ resourceIdentifier: serviceArn(service), policy }));
};

interface IssueOptions {
  uris?: string[];
  /** Seconds since the epoch. */
  notBefore?: number;
  notAfter?: number;
  issuer?: LocalCa;
}

/** An SVID for the workload's CSR, signed by the local ACM PCA's CA (or another), the URI SANs forced through API passthrough. */
const issue = async (workload: Workload, options: IssueOptions = {}): Promise<string> => {
  const issued = await (options.issuer ?? ca).issue({
    csrPem: workload.csrPem,
    template: 'EndEntityCertificate_APIPassthrough/V1',
    validity: options.notAfter === undefined ? { Type: 'DAYS', Value: 1 } : { Type: 'ABSOLUTE', Value: options.notAfter },
    ...(options.notBefore === undefined ? {} : { validityNotBefore: { Type: 'ABSOLUTE', Value: options.notBefore } }),
    apiPassthrough: { Extensions: { SubjectAlternativeNames: (options.uris ?? [workload.spiffeId]).map((uri) => ({ UniformResourceIdentifier: uri })) } },
  });
  return issued.certificatePem;
};

const newWorkload = async (spiffeId: string, options: IssueOptions = {}): Promise<Workload> => {
  const workload = await Workload.create({ spiffeId, now: () => new Date(Date.now() + clockOffsetMs) });
  workload.useSvid({ certificatePem: await issue(workload, options) });
  return workload;
};

const sessionFor = (workload: Workload): string =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/${new X509Certificate(workload.svid.certificatePem).serialNumber.toLowerCase()}`;

const deniedText = (principal: string, service: string, path: string): string =>
  `AccessDeniedException: User: ${principal} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: ${serviceArn(service)}${path} because no service-based policy allows the vpc-lattice-svcs:Invoke action`;

const callSigV4 = (workload: Workload, service: string, path = '/'): ReturnType<Workload['call']> =>
  workload.call(`${urls[service]}${path}`, ra, { ca: tlsCa, agent });

const callMtls = (workload: Workload, service: string, path = '/'): ReturnType<Workload['callWithMtls']> =>
  workload.callWithMtls(`${urls[service]}${path}`, { ca: tlsCa, agent });

const lastDecision = (): Record<string, unknown> | undefined => decisions.filter((d) => d.message === DECISION_LOG_MESSAGE).at(-1);

beforeAll(async () => {
  // The targets log through this logger (created before the stack set POWERTOOLS_LOG_LEVEL): keep the
  // test output quiet; spies still see every call.
  logger.setLogLevel('ERROR');
  stack = await startInProcessStack({
    dataPlane: { now: () => new Date(Date.now() + clockOffsetMs), log: (entry) => decisions.push(entry) },
  });
  if (stack.dataPlane === undefined) throw new Error('the data plane did not start');
  urls = stack.dataPlane.services;
  tlsCa = stack.dataPlane.caPem;
  ca = stack.standIns.acmPca.ca;
  foreignDir = mkdtempSync(join(tmpdir(), 'trellis-foreign-ca-'));
  foreignCa = await LocalCa.load(foreignDir, { region: REGION, accountId: ACCOUNT });
  lattice = new VPCLatticeClient({ endpoint: stack.standIns.lattice.endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  ra = {
    endpoint: stack.standIns.rolesAnywhere.endpoint,
    region: REGION,
    trustAnchorArn: LOCAL_IDENTITY.trustAnchorArn,
    profileArn: LOCAL_IDENTITY.profileArn,
    roleArn: LOCAL_IDENTITY.workloadRoleArn,
  };
  [orders, reviews] = await Promise.all([newWorkload(ORDERS), newWorkload(REVIEWS)]);
});

afterAll(async () => {
  agent.destroy();
  lattice?.destroy();
  await stack?.stop();
  if (foreignDir !== undefined) rmSync(foreignDir, { recursive: true, force: true });
});

beforeEach(async () => {
  clockOffsetMs = 0;
  await putPolicy('billing', REFERENCE_GRANTS.billing);
  await putPolicy('rates', REFERENCE_GRANTS.rates);
});

describe('the local Lattice data plane', () => {
  it('listens on one HTTPS address per target of serverless.yml, with its CA written for curl --cacert', () => {
    expect(Object.keys(urls).sort()).toEqual(['billing', 'rates']);
    for (const url of Object.values(urls)) expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.dataPlane?.caFile.endsWith(DATA_PLANE_CA_FILE)).toBe(true);
    expect(readFileSync(stack.dataPlane?.caFile ?? '', 'utf8').trim()).toBe(tlsCa.trim());
  });

  describe('SigV4 with Roles Anywhere credentials: the reference table', () => {
    it('Orders → Billing is ALLOWED, and Billing logs the identity Lattice handed it', async () => {
      const info = vi.spyOn(logger, 'info');
      try {
        const res = await callSigV4(orders, 'billing', '/charges?month=2024-05');
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('application/json');
        const principal = sessionFor(orders);
        const identity = {
          principal,
          sessionName: principal.split('/').pop(),
          type: 'AWS_IAM',
          x509SanUri: ORDERS,
          x509IssuerOu: 'trellis-local',
        };
        expect(JSON.parse(res.body)).toEqual({ message: 'HelloWorld from Billing Lambda', identity });
        const logged = info.mock.calls.find(([message]) => message === CALLER_IDENTITY_LOG);
        expect(logged?.[1]).toMatchObject({ targetService: 'billing', method: 'GET', path: '/charges', eventVersion: 'V2', identity });
      } finally {
        info.mockRestore();
      }
      expect(lastDecision()).toMatchObject({
        service: 'billing',
        caller: sessionFor(orders),
        authenticatedBy: 'sigv4',
        tags: { 'x509SAN/URI': ORDERS, 'x509Issuer/OU': 'trellis-local' },
        decision: 'Allow',
        statement: { index: 0, sid: 'AllowExactAll' },
        policyVersion: expect.any(Number),
      });
    });

    it('Reviews → Billing is DENIED with the AccessDeniedException text, and the decision is logged', async () => {
      const res = await callSigV4(reviews, 'billing', '/charges');
      expect(res.status).toBe(403);
      expect(res.headers['x-amzn-errortype']).toBe('AccessDeniedException');
      expect(res.body).toBe(deniedText(sessionFor(reviews), 'billing', '/charges'));
      expect(lastDecision()).toMatchObject({
        level: 'WARN',
        service: 'billing',
        caller: sessionFor(reviews),
        tags: { 'x509SAN/URI': REVIEWS },
        decision: 'ImplicitDeny',
        statement: 'no statement matched',
        policyVersion: stack.standIns.lattice.store.getAuthPolicy(serviceArn('billing'))?.version,
        status: 403,
      });
    });

    it('Reviews → Rates and Orders → Rates are ALLOWED', async () => {
      for (const [workload, id] of [[reviews, REVIEWS], [orders, ORDERS]] as const) {
        const res = await callSigV4(workload, 'rates');
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toMatchObject({ message: 'HelloWorld from Rates Lambda', identity: { principal: sessionFor(workload), x509SanUri: id } });
      }
    });

    it('refuses a tampered signature, unknown credentials and a signed payload hash', async () => {
      const credentials = await orders.credentials(ra);
      const signed = await signLatticeRequest({ url: `${urls.billing}/charges`, region: REGION, credentials });
      const tampered = { ...signed.headers, authorization: (signed.headers.authorization ?? '').replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === '0' ? '1' : '0'}`) };
      const bad = await sendHttp({ url: signed.url, method: 'GET', headers: tampered, ca: tlsCa });
      expect(bad.status).toBe(403);
      expect(bad.body).toBe('AccessDeniedException: the request signature we calculated does not match the signature you provided');
      expect(decisions.at(-1)).toMatchObject({ message: 'authentication failed', reason: 'bad-signature' });

      const unknown = await signedFetch({ url: `${urls.billing}/`, region: REGION, ca: tlsCa, credentials: { ...credentials, accessKeyId: 'ASIAUNKNOWNUNKNOWN00' } });
      expect(unknown.status).toBe(403);
      expect(decisions.at(-1)).toMatchObject({ reason: 'unknown-key' });

      // Lattice does not support payload signing: the same credentials, a hashed payload → refused.
      const payloadSigned = await sendHttp({ url: signed.url, method: 'GET', headers: { ...signed.headers, 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }, ca: tlsCa });
      expect(payloadSigned.status).toBe(403);
      expect(decisions.at(-1)).toMatchObject({ reason: 'payload-signing-unsupported' });
    });

    it('refuses session credentials once they expire (fake clock)', async () => {
      const credentials = await orders.credentials(ra);
      expect((await callSigV4(orders, 'billing')).status).toBe(200);
      clockOffsetMs = credentials.expiration.getTime() - Date.now() + 60_000;
      const res = await signedFetch({ url: `${urls.billing}/`, region: REGION, ca: tlsCa, credentials, signingDate: new Date(Date.now() + clockOffsetMs) });
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/^AccessDeniedException: the security token included in the request is expired/);
      expect(decisions.at(-1)).toMatchObject({ message: 'authentication failed', authenticatedBy: 'sigv4', reason: 'expired' });
    });
  });

  describe('mTLS with the X.509-SVID', () => {
    it('gives the caller the same identity as its Roles Anywhere session, and the same outcomes', async () => {
      const allowed = await callMtls(orders, 'billing', '/charges');
      expect(allowed.status).toBe(200);
      const viaSigV4 = JSON.parse((await callSigV4(orders, 'billing', '/charges')).body) as { identity: unknown };
      expect(JSON.parse(allowed.body)).toEqual({ message: 'HelloWorld from Billing Lambda', identity: viaSigV4.identity });

      const denied = await callMtls(reviews, 'billing', '/charges');
      expect(denied.status).toBe(403);
      expect(denied.body).toBe(deniedText(sessionFor(reviews), 'billing', '/charges'));
      expect(lastDecision()).toMatchObject({ authenticatedBy: 'mtls', caller: sessionFor(reviews), decision: 'ImplicitDeny' });

      const rates = await callMtls(reviews, 'rates');
      expect(rates.status).toBe(200);
      expect(JSON.parse(rates.body)).toMatchObject({ message: 'HelloWorld from Rates Lambda', identity: { principal: sessionFor(reviews), x509SanUri: REVIEWS } });
    });

    it('treats a request with neither a certificate nor a signature as anonymous: 403', async () => {
      const res = await sendHttp({ url: new URL(`${urls.billing}/charges`), method: 'GET', headers: {}, ca: tlsCa });
      expect(res.status).toBe(403);
      expect(res.body).toBe(deniedText('anonymous', 'billing', '/charges'));
      expect(lastDecision()).toMatchObject({ authenticatedBy: 'anonymous', caller: 'anonymous', tags: {}, decision: 'ImplicitDeny' });
    });

    it('refuses a path a target could normalise out of a granted prefix (dot segments, //, encoded . or /)', async () => {
      // node:https sends the path as given (a WHATWG URL would resolve the dot segments first).
      const rawGet = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const target = new URL(urls.billing ?? '');
          const req = httpsRequest({ host: target.hostname, port: target.port, path, method: 'GET', ca: tlsCa }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      for (const path of ['/public/../admin', '/public/./x', '/public//x', '/public/%2e%2e/admin', '/public/%2Fadmin']) {
        const res = await rawGet(path);
        expect(res.status, path).toBe(400);
        expect(res.body).toContain('BadRequestException');
      }
    });

    it('refuses an expired certificate', async () => {
      const nowSeconds = Math.floor(Date.now() / 1000);
      const expired = await newWorkload(ORDERS, { notBefore: nowSeconds - 1800, notAfter: nowSeconds - 600 });
      const res = await callMtls(expired, 'billing');
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/^AccessDeniedException: the client certificate is not trusted: the certificate is not valid now/);
    });

    it('refuses a certificate from a foreign CA (and so does Roles Anywhere)', async () => {
      const foreign = await newWorkload(ORDERS, { issuer: foreignCa });
      const res = await callMtls(foreign, 'billing');
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/^AccessDeniedException: the client certificate is not trusted: /);
      expect(decisions.at(-1)).toMatchObject({ message: 'authentication failed', authenticatedBy: 'mtls', reason: 'untrusted-certificate' });
      await expect(foreign.credentials(ra)).rejects.toBeInstanceOf(RolesAnywhereError);
    });

    it('lets a certificate of another trust domain in over mTLS, where the policy denies it; Roles Anywhere gives it no session (the role trust policy)', async () => {
      const stranger = await newWorkload('spiffe://other.org/service/orders');
      const res = await callMtls(stranger, 'billing');
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/^AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role\/trellis-local-workload\/[0-9a-f]+ is not authorized/);
      expect(lastDecision()).toMatchObject({ tags: { 'x509SAN/URI': 'spiffe://other.org/service/orders' }, statement: 'no statement matched' });
      // The workload role's trust policy requires spiffe://example.org/* in x509SAN/URI.
      await expect(stranger.credentials(ra)).rejects.toThrow(/aws:PrincipalTag\/x509SAN\/URI/);
    });

    it('refuses a certificate with two URI SANs over mTLS; Roles Anywhere maps only the first one', async () => {
      const twoUris = await newWorkload(REVIEWS, { uris: [ORDERS, REVIEWS] });
      const mtls = await callMtls(twoUris, 'billing');
      expect(mtls.status).toBe(403);
      expect(mtls.body).toBe('AccessDeniedException: the client certificate is not a valid X509-SVID: an X509-SVID has exactly one URI SAN; this certificate has 2');
      // Decision documented in data-plane-auth.ts: over SigV4 the session carries the FIRST URI only
      // (Roles Anywhere's rule), and the policy judges that.
      const sigv4 = await callSigV4(twoUris, 'billing');
      expect(sigv4.status).toBe(200);
      expect(JSON.parse(sigv4.body)).toMatchObject({ identity: { x509SanUri: ORDERS } });
    });
  });

  describe('policy changes', () => {
    it('revoking a grant turns ALLOWED into DENIED on the next request', async () => {
      expect((await callSigV4(reviews, 'rates')).status).toBe(200);
      expect((await callMtls(reviews, 'rates')).status).toBe(200);
      const before = stack.standIns.lattice.store.policyVersion(serviceArn('rates'));
      await putPolicy('rates', REFERENCE_GRANTS.rates.filter((g) => g.caller !== REVIEWS));
      const sigv4 = await callSigV4(reviews, 'rates');
      const mtls = await callMtls(reviews, 'rates');
      // No wait, no retry: the very next requests are decided by the new policy version.
      expect(sigv4.status).toBe(403);
      expect(sigv4.body).toBe(deniedText(sessionFor(reviews), 'rates', '/'));
      expect(mtls.status).toBe(403);
      expect(lastDecision()).toMatchObject({ caller: sessionFor(reviews), policyVersion: before + 1, decision: 'ImplicitDeny' });
      expect((await callSigV4(orders, 'rates')).status).toBe(200);
    });

    it('revoking the last grant of a service leaves the compiler deny-all policy: an explicit deny', async () => {
      await putPolicy('billing', []);
      const res = await callSigV4(orders, 'billing');
      expect(res.status).toBe(403);
      expect(res.body).toBe(
        `AccessDeniedException: User: ${sessionFor(orders)} is not authorized to perform: vpc-lattice-svcs:Invoke on resource: ${serviceArn('billing')}/ with an explicit deny in a service-based policy`,
      );
      expect(lastDecision()).toMatchObject({ decision: 'ExplicitDeny' });
      await putPolicy('billing', REFERENCE_GRANTS.billing);
      expect((await callSigV4(orders, 'billing')).status).toBe(200);
    });

    it('evaluates request headers and query strings as condition keys, and an explicit deny wins', async () => {
      const arn = serviceArn('rates');
      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowAll', Effect: 'Allow', Principal: '*', Action: 'vpc-lattice-svcs:Invoke', Resource: `${arn}/*`, Condition: { StringEquals: { 'aws:PrincipalArn': LOCAL_IDENTITY.workloadRoleArn } } },
          { Sid: 'DenyDebug', Effect: 'Deny', Principal: '*', Action: 'vpc-lattice-svcs:Invoke', Resource: `${arn}/*`, Condition: { StringEquals: { 'vpc-lattice-svcs:RequestHeader/x-debug': 'on' } } },
          { Sid: 'DenyDryRun', Effect: 'Deny', Principal: '*', Action: 'vpc-lattice-svcs:Invoke', Resource: `${arn}/*`, Condition: { 'ForAnyValue:StringEquals': { 'vpc-lattice-svcs:RequestQueryString/mode': 'dry-run' } } },
        ],
      });
      await lattice.send(new PutAuthPolicyCommand({ resourceIdentifier: arn, policy }));
      expect((await callSigV4(reviews, 'rates', '/quote?mode=live')).status).toBe(200);
      const header = await orders.call(`${urls.rates}/quote`, ra, { ca: tlsCa, agent, headers: { 'X-Debug': 'on' } });
      expect(header.status).toBe(403);
      expect(header.body).toContain('with an explicit deny in a service-based policy');
      expect(lastDecision()).toMatchObject({ decision: 'ExplicitDeny', statement: { index: 1, sid: 'DenyDebug' } });
      const query = await callSigV4(reviews, 'rates', '/quote?mode=live&mode=dry-run');
      expect(query.status).toBe(403);
      expect(lastDecision()).toMatchObject({ decision: 'ExplicitDeny', statement: { index: 2, sid: 'DenyDryRun' } });
    });

    it('denies everything while no policy is attached, and skips authentication for authType NONE', async () => {
      stack.standIns.lattice.store.setAuthPolicyOutOfBand(serviceArn('rates'), null);
      const none = await callSigV4(orders, 'rates');
      expect(none.status).toBe(403);
      expect(lastDecision()).toMatchObject({ statement: 'no auth policy attached' });

      await lattice.send(new UpdateServiceCommand({ serviceIdentifier: serviceArn('rates'), authType: 'NONE' }));
      try {
        // Lattice forwards without identity; the target itself refuses an unidentified caller.
        const open = await sendHttp({ url: new URL(`${urls.rates}/`), method: 'GET', headers: {}, ca: tlsCa });
        expect(open.status).toBe(403);
        expect(JSON.parse(open.body)).toEqual({ message: 'Forbidden: no authenticated caller identity' });
      } finally {
        await lattice.send(new UpdateServiceCommand({ serviceIdentifier: serviceArn('rates'), authType: 'AWS_IAM' }));
      }
    });
  });
});

describe('data-plane request translation', () => {
  const service = { name: 'billing', arn: `arn:aws:vpc-lattice:${REGION}:${ACCOUNT}:service/svc-0123456789abcdef0`, region: REGION, accountId: ACCOUNT };
  const caller = {
    authenticatedBy: 'sigv4' as const,
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE_NAME}/0a1b`,
    roleArn: LOCAL_IDENTITY.workloadRoleArn,
    sessionName: '0a1b',
    tags: { 'x509SAN/URI': ORDERS, 'x509Subject/CN': 'orders', 'x509Issuer/OU': 'trellis-local' },
  };

  it('builds a Lattice 2.0 event the targets parse: arrays, microsecond timeEpoch, identity, X-Forwarded-For', () => {
    const now = new Date('2024-05-01T12:00:00.123Z');
    const event = latticeEvent({
      caller,
      service,
      request: { method: 'POST', path: '/charges', query: { a: ['1', '2'] }, headers: { 'content-type': ['application/json'], 'x-multi': ['x', 'y'] }, port: 4443, sourceIp: '127.0.0.1' },
      body: Buffer.from('{"amount":1}'),
      functionName: 'billing',
      now,
    });
    expect(event).toMatchObject({
      version: '2.0',
      method: 'POST',
      path: '/charges',
      headers: { 'content-type': ['application/json'], 'x-multi': ['x', 'y'], 'x-forwarded-for': ['127.0.0.1'] },
      queryStringParameters: { a: ['1', '2'] },
      body: '{"amount":1}',
      isBase64Encoded: false,
      requestContext: {
        serviceArn: service.arn,
        targetGroupArn: expect.stringMatching(/^arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup\/tg-[0-9a-f]{17}$/),
        identity: { type: 'AWS_IAM', principal: caller.principal, sessionName: '0a1b', x509SanUri: ORDERS, x509SubjectCn: 'orders', x509IssuerOu: 'trellis-local' },
        region: REGION,
        timeEpoch: '1714564800123000',
      },
    });
    const parsed = parseLatticeEvent(event);
    expect(parsed.ok && parsed.request.requestTime?.toISOString()).toBe(now.toISOString());
    expect(timeEpochMicros(new Date(1))).toBe('1000');
  });

  it('base64-encodes bodies that are not text, and decodes base64 answers', () => {
    expect(encodeBody(Buffer.from([0xff, 0x00]), { 'content-type': ['application/octet-stream'] })).toEqual({ body: '/wA=', isBase64Encoded: true });
    expect(encodeBody(Buffer.from('hi'), { 'content-type': ['text/plain; charset=utf-8'] })).toEqual({ body: 'hi', isBase64Encoded: false });
    expect(encodeBody(Buffer.from('hi'), { 'content-type': ['application/json'], 'content-encoding': ['gzip'] })).toEqual({ body: 'aGk=', isBase64Encoded: true });
    expect(httpAnswerFromTarget({ statusCode: 201, isBase64Encoded: true, headers: { 'X-A': 'b', Connection: 'close' }, body: '/wA=' })).toEqual({ status: 201, headers: { 'X-A': 'b' }, body: Buffer.from([0xff, 0x00]) });
    expect(httpAnswerFromTarget({ statusCode: 'nope' })).toBeUndefined();
    expect(httpAnswerFromTarget('text')).toBeUndefined();
  });
});

describe('Roles Anywhere CreateSession and the data plane agree on who a certificate is', () => {
  it('maps the same principal, session name and tags', async () => {
    const creds = await createSession({ ...ra, certificatePem: orders.svid.certificatePem, privateKey: orders.keys.privateKey });
    expect(creds.assumedRoleArn).toBe(sessionFor(orders));
    const mtls = await mtlsFetch({ url: `${urls.billing}/`, certificatePem: orders.svid.certificatePem, privateKey: orders.keys.privateKey, ca: tlsCa });
    expect(JSON.parse(mtls.body)).toMatchObject({ identity: { principal: creds.assumedRoleArn } });
    expect(stack.standIns.rolesAnywhere.credentials.lookup(creds.accessKeyId)?.tags).toEqual(lastDecision()?.tags);
  });
});
