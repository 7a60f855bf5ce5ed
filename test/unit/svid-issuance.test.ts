/** The pure parts of SVID issuance: validity, idempotency token, subject and SANs, error classes, backoff, rate spacing. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACMPCAServiceException, LimitExceededException, MalformedCSRException, RequestAlreadyProcessedException, RequestInProgressException, ResourceNotFoundException } from '@aws-sdk/client-acm-pca';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalCa } from '../../local/acm-pca/local-ca';
import { backoffDelayMs } from '../../shared/svid/backoff';
import { idempotencyToken, issuanceWindow, svidApiPassthrough, svidCommonName } from '../../shared/svid/issue-parameters';
import { CaCache, classifyPcaError, joinPem, partitionOf, serialFromCertificateArn, svidTemplateArn, type PcaClient } from '../../shared/svid/pca-client';
import { slotSpacingMs } from '../../shared/svid/rate-limiter';
import { registrationRequestId } from '../../shared/svid/request';
import { checkX509Svid } from '../../shared/svid/x509-svid';
import { createCsrPem } from './svid-test-ca';

const ORDERS = 'spiffe://example.org/service/orders';

describe('issuanceWindow', () => {
  it('starts the skew allowance before now, on a whole second, and lasts exactly the TTL', () => {
    const window = issuanceWindow(new Date('2030-01-01T00:00:00.750Z'), 3600, 10);
    expect(window).toEqual({ notBefore: new Date('2029-12-31T23:59:50Z'), notAfter: new Date('2030-01-01T00:59:50Z') });
  });

  it('lifetime = TTL and NotBefore within [now - skew - 1 s, now - skew] for any time and TTL', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000_000_000, max: 4_000_000_000_000 }), fc.integer({ min: 300, max: 604_800 }), (ms, ttl) => {
        const { notBefore, notAfter } = issuanceWindow(new Date(ms), ttl);
        expect(notAfter.getTime() - notBefore.getTime()).toBe(ttl * 1000);
        expect(notBefore.getTime() % 1000).toBe(0);
        expect(ms - 10_000 - notBefore.getTime()).toBeGreaterThanOrEqual(0);
        expect(ms - 10_000 - notBefore.getTime()).toBeLessThan(1000);
      }),
    );
  });
});

describe('idempotencyToken', () => {
  const id = 'a0b1c2d3-e4f5-4a6b-8c7d-0e1f2a3b4c5d';
  const nb = new Date('2030-01-01T00:00:00Z');

  it('is the same for every delivery of a request with its window, and within the AWS limit (1-36 chars)', () => {
    expect(idempotencyToken(id, nb)).toBe(idempotencyToken(id, new Date(nb)));
    expect(idempotencyToken(id, nb)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs for another request or another window', () => {
    expect(idempotencyToken(id, nb)).not.toBe(idempotencyToken('b0b1c2d3-e4f5-4a6b-8c7d-0e1f2a3b4c5d', nb));
    expect(idempotencyToken(id, nb)).not.toBe(idempotencyToken(id, new Date(nb.getTime() + 1000)));
  });
});

describe('subject and SANs sent through ApiPassthrough', () => {
  it('CN is the last SPIFFE ID path segment, at most 64 characters', () => {
    expect(svidCommonName(ORDERS)).toBe('orders');
    expect(svidCommonName('spiffe://example.org/a')).toBe('a');
    expect(svidCommonName(`spiffe://example.org/ns/${'x'.repeat(80)}`)).toBe('x'.repeat(64));
  });

  it('the SPIFFE ID is the only URI SAN, followed by the registered DNS names', () => {
    expect(svidApiPassthrough(ORDERS, ['orders.internal', 'orders.example.org'])).toEqual({
      Subject: { CommonName: 'orders' },
      Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: ORDERS }, { DnsName: 'orders.internal' }, { DnsName: 'orders.example.org' }] },
    });
  });

  it('the template is EndEntityCertificate_APIPassthrough/V1 in the CA partition', () => {
    expect(svidTemplateArn()).toBe('arn:aws:acm-pca:::template/EndEntityCertificate_APIPassthrough/V1');
    expect(partitionOf('arn:aws-us-gov:acm-pca:us-gov-west-1:123456789012:certificate-authority/x')).toBe('aws-us-gov');
  });
});

describe('what the chosen template and passthrough produce (the local CA applies the AWS template definitions)', () => {
  let dir: string;
  let ca: LocalCa;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-svid-unit-'));
    ca = await LocalCa.load(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const issue = async (template: string, csrPem: string) => {
    const { notBefore, notAfter } = issuanceWindow(new Date(), 3600);
    const issued = await ca.issue({
      csrPem,
      template,
      validity: { Type: 'ABSOLUTE', Value: notAfter.getTime() / 1000 },
      validityNotBefore: { Type: 'ABSOLUTE', Value: notBefore.getTime() / 1000 },
      apiPassthrough: svidApiPassthrough(ORDERS, ['orders.internal']),
    });
    return checkX509Svid(issued.certificatePem, { spiffeId: ORDERS, notBefore, notAfter, caCertPem: ca.certificatePem });
  };

  it('EndEntityCertificate_APIPassthrough: an X509-SVID, even from a CSR that asks for another identity', async () => {
    const hostile = await createCsrPem({ subject: 'CN=billing', sans: [{ type: 'url', value: 'spiffe://example.org/service/billing' }] });
    expect(await issue(svidTemplateArn(), hostile)).toMatchObject({ ok: true });
  });

  it('the ClientAuth variant would not be (its fixed EKU lacks serverAuth)', async () => {
    const result = await issue('arn:aws:acm-pca:::template/EndEntityClientAuthCertificate_APIPassthrough/V1', await createCsrPem());
    expect(result).toMatchObject({ ok: false, violations: [{ rule: 'extended-key-usage' }] });
  });
});

describe('classifyPcaError', () => {
  const meta = { $metadata: { httpStatusCode: 400 } };
  it.each([
    ['RequestInProgressException', new RequestInProgressException({ message: 'wait', ...meta }), 'in-progress'],
    ['ThrottlingException (not modelled: a generic exception named by the wire type)', new ACMPCAServiceException({ name: 'ThrottlingException', $fault: 'client', message: 'Rate exceeded', ...meta }), 'throttled'],
    ['HTTP 429', Object.assign(new Error('slow down'), { name: 'Whatever', $metadata: { httpStatusCode: 429 } }), 'throttled'],
    ['a 5xx', new ACMPCAServiceException({ name: 'InternalFailure', $fault: 'server', message: 'oops', $metadata: { httpStatusCode: 500 } }), 'transient'],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'transient'],
    ['RequestAlreadyProcessedException', new RequestAlreadyProcessedException({ message: 'done', ...meta }), 'already-done'],
    ['ResourceNotFoundException', new ResourceNotFoundException({ message: 'no', ...meta }), 'not-found'],
    ['MalformedCSRException', new MalformedCSRException({ message: 'bad', ...meta }), 'rejected'],
    ['LimitExceededException (a quota, not a rate)', new LimitExceededException({ message: 'quota', ...meta }), 'rejected'],
  ])('%s → %s', (_name, error, kind) => {
    expect(classifyPcaError(error)).toBe(kind);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, jittered within the upper half', () => {
    const policy = { baseMs: 100, capMs: 2000 };
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, policy, () => 1))).toEqual([100, 200, 400, 800, 1600, 2000]);
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, policy, () => 0))).toEqual([50, 100, 200, 400, 800, 1000]);
    fc.assert(fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (retry, r) => backoffDelayMs(retry, policy, () => r) <= 2000));
  });
});

describe('rate limiter spacing', () => {
  it('is (1000 ms + the jitter allowance) per permitted call', () => {
    expect(slotSpacingMs(20)).toBe(55);
    expect(slotSpacingMs(5, 0)).toBe(200);
    expect(() => slotSpacingMs(0)).toThrow(RangeError);
  });
});

describe('small helpers', () => {
  it('registrationRequestId is a stable UUID per entry incarnation', () => {
    const id = registrationRequestId('wl-0123', '2030-01-01T00:00:00.000Z');
    expect(z.string().uuid().safeParse(id).success).toBe(true);
    expect(registrationRequestId('wl-0123', '2030-01-01T00:00:00.000Z')).toBe(id);
    expect(registrationRequestId('wl-0123', '2030-01-01T00:00:00.001Z')).not.toBe(id);
  });

  it('serialFromCertificateArn reads the hex serial of a certificate ARN', () => {
    expect(serialFromCertificateArn('arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/abc/certificate/A2B95975EC6E1CD85A21C2104C5BE129')).toBe('a2b95975ec6e1cd85a21c2104c5be129');
    expect(serialFromCertificateArn('arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/abc')).toBeUndefined();
  });

  it('joinPem puts one newline between blocks and skips empty chains', () => {
    expect(joinPem('A\n', '', '  B')).toBe('A\nB\n');
  });

  it('CaCache asks the CA once per TTL and does not keep a failure', async () => {
    let now = 0;
    let calls = 0;
    let fail = true;
    const pca = {
      caArn: 'arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/x',
      describeCa: async () => {
        calls += 1;
        if (fail) throw new Error('down');
        return { status: 'ACTIVE', signingAlgorithm: 'SHA256WITHECDSA' as const, keyAlgorithm: 'EC_prime256v1' };
      },
    } as unknown as PcaClient;
    const cache = new CaCache(pca, 1000, () => now);
    await expect(cache.describe()).rejects.toThrow('down');
    fail = false;
    await cache.describe();
    await cache.describe();
    expect(calls).toBe(2);
    now = 1001;
    await cache.describe();
    expect(calls).toBe(3);
  });
});
