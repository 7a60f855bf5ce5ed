/**
 * Revoked certificates in the compiled auth policies: the deny on aws:userid `*:<serial>` refuses
 * the sessions of the revoked certificate and nothing else (other certificates of the same SPIFFE
 * ID stay allowed), as judged by Trellis's evaluator AND @cloud-copilot/iam-simulate; the deny
 * counts against the size limit; its entries go once the certificate has expired.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, DEFAULT_MAX_POLICY_BYTES, REVOKED_SESSIONS_SID, type CompileOptions } from '../../shared/policy/compiler';
import { evaluatePolicy } from '../../shared/policy/evaluator';
import { roleSessionRequest } from '../../shared/policy/session-request';
import { compileService } from '../../shared/policy-sync/compile';
import { deniedSerials, dropExpired, InMemoryRevocationStore, type RevokedCertificate } from '../../shared/policy-sync/revocations';
import { iamSimulateDecision } from '../support/iam-simulate';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/trellis-dev-workload`;
const SERVICE = `arn:aws:vpc-lattice:us-east-1:${ACCOUNT}:service/svc-0123456789abcdefg`;
const ORDERS = 'spiffe://example.org/service/orders';
const REVIEWS = 'spiffe://example.org/service/reviews';
const REVOKED = '5f0c9e1a2b3c4d5e6f708192a3b4c5d6';
const RENEWED = '7a1b2c3d4e5f60718293a4b5c6d7e8f9';
const OTHER_REVOKED = '0123456789abcdef0123456789abcdef';

const options = (revokedSerials: string[]): CompileOptions => ({ serviceArn: SERVICE, principalArn: ROLE, trustDomain: 'example.org', revokedSerials });
const grants = [
  { id: 'g-orders', caller: ORDERS },
  { id: 'g-services', caller: 'spiffe://example.org/service/*', methods: ['GET'] },
];

const call = (callerUri: string, sessionName: string, method = 'GET') => roleSessionRequest({ serviceArn: SERVICE, roleArn: ROLE, callerUri, method, path: '/charges', sessionName });

describe('compilePolicy with revoked certificates', () => {
  const { policy } = compilePolicy(grants, options([REVOKED, OTHER_REVOKED]));

  it('adds one DenyRevokedSessions statement on aws:userid "*:<serial>" for each serial, sorted', () => {
    const statement = (JSON.parse(policy) as { Statement: { Sid: string; Effect: string; Condition: unknown }[] }).Statement.find((s) => s.Sid === REVOKED_SESSIONS_SID);
    expect(statement).toMatchObject({ Effect: 'Deny', Condition: { StringLike: { 'aws:userid': [`*:${OTHER_REVOKED}`, `*:${REVOKED}`] } } });
  });

  it('is canonical: the same serials in another order give the same bytes', () => {
    expect(compilePolicy(grants, options([OTHER_REVOKED, REVOKED, REVOKED])).policy).toBe(policy);
  });

  it('without revoked serials the policy is what it was before revocation existed', () => {
    expect(compilePolicy(grants, options([])).policy).toBe(compilePolicy(grants, { serviceArn: SERVICE, principalArn: ROLE, trustDomain: 'example.org' }).policy);
    expect(compilePolicy(grants, options([])).policy).not.toContain(REVOKED_SESSIONS_SID);
  });

  it('refuses a serial that is not lowercase hex (no wildcard or JSON can reach the policy)', () => {
    expect(() => compilePolicy(grants, options(['*']))).toThrow(/revokedSerials/);
    expect(() => compilePolicy(grants, options(['ABCDEF']))).toThrow(/revokedSerials/);
  });

  const cases: { name: string; callerUri: string; session: string; method?: string; expected: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' }[] = [
    { name: 'the revoked certificate\'s session of Orders is denied', callerUri: ORDERS, session: REVOKED, expected: 'ExplicitDeny' },
    { name: 'the revoked session is denied for a method only the prefix grant allows, too', callerUri: ORDERS, session: REVOKED, method: 'POST', expected: 'ExplicitDeny' },
    { name: 'Orders with its renewed certificate (same SPIFFE ID) stays allowed', callerUri: ORDERS, session: RENEWED, expected: 'Allow' },
    { name: 'another workload under the prefix stays allowed', callerUri: REVIEWS, session: RENEWED, expected: 'Allow' },
    { name: 'a session with the revoked serial as a substring (not the whole name) is not denied', callerUri: ORDERS, session: `${REVOKED}0`, expected: 'Allow' },
    { name: 'a caller no grant admits stays implicitly denied', callerUri: 'spiffe://example.org/batch/x', session: RENEWED, expected: 'ImplicitDeny' },
  ];

  it.each(cases)('Trellis\'s evaluator: $name', ({ callerUri, session, method, expected }) => {
    expect(evaluatePolicy(policy, call(callerUri, session, method)).decision).toBe(expected);
  });

  it.each(cases)('iam-simulate: $name', async ({ callerUri, session, method, expected }) => {
    expect(await iamSimulateDecision(policy, call(callerUri, session, method), ACCOUNT)).toBe(expected);
  });
});

describe('the size limit counts the revoked certificates', () => {
  it('a policy that fits without them can be over the limit with them, and the refusal says why', () => {
    const base = compilePolicy(grants, options([])).bytes;
    const serials = Array.from({ length: 400 }, (_, i) => i.toString(16).padStart(32, '0'));
    const bytes = compilePolicy(grants, { ...options(serials), maxBytes: Number.MAX_SAFE_INTEGER }).bytes;
    expect(base).toBeLessThan(DEFAULT_MAX_POLICY_BYTES);
    expect(bytes).toBeGreaterThan(DEFAULT_MAX_POLICY_BYTES);
    expect(() => compilePolicy(grants, options(serials))).toThrow(/400 revoked certificates/);
    const compiled = compileService(grants, SERVICE, { principalArn: ROLE, trustDomain: 'example.org' }, serials);
    expect(compiled.ok).toBe(false);
  });

  it('each revoked certificate costs its pattern and a separator (37 bytes for a 32-digit serial)', () => {
    // From two on (one value is a plain string, two are a list).
    const two = compilePolicy(grants, options([REVOKED, OTHER_REVOKED])).bytes;
    const three = compilePolicy(grants, options([REVOKED, OTHER_REVOKED, RENEWED])).bytes;
    expect(three - two).toBe(JSON.stringify(`*:${RENEWED}`).length + 1);
    expect(three - two).toBe(37);
  });
});

describe('revocation records expire with their certificates (fake clock)', () => {
  const record = (serialNumber: string, notAfter: string): RevokedCertificate => ({
    serialNumber,
    spiffeId: ORDERS,
    workloadId: 'wl-1',
    reason: 'KEY_COMPROMISE',
    notAfter,
    revokedAt: '2026-01-01T00:00:00.000Z',
  });

  it('denied until notAfter, gone from the compilation at notAfter, dropped by the reconcile step', async () => {
    const store = new InMemoryRevocationStore();
    await store.record(record(REVOKED, '2026-01-01T01:00:00.000Z'));
    await store.record(record(OTHER_REVOKED, '2026-01-02T00:00:00.000Z'));
    expect(await deniedSerials(store, new Date('2026-01-01T00:59:59.999Z'))).toEqual([OTHER_REVOKED, REVOKED]);
    const atExpiry = new Date('2026-01-01T01:00:00.000Z');
    expect(await deniedSerials(store, atExpiry)).toEqual([OTHER_REVOKED]);
    expect(await dropExpired(store, atExpiry)).toEqual([REVOKED]);
    expect((await store.all()).map((r) => r.serialNumber)).toEqual([OTHER_REVOKED]);
    const policy = compilePolicy(grants, options(await deniedSerials(store, atExpiry))).policy;
    expect(evaluatePolicy(policy, call(ORDERS, REVOKED)).decision).toBe('Allow');
    expect(evaluatePolicy(policy, call(ORDERS, OTHER_REVOKED)).decision).toBe('ExplicitDeny');
  });
});
