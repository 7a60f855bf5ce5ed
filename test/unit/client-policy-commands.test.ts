/**
 * The policy and grant-preview commands of `trellis` against a recording HTTP server (canned
 * answers, every request kept): which request each command sends, and what it prints.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../client/src/cli/main';

interface Recorded {
  method: string;
  url: string;
  body: string;
}

let server: Server;
let endpoints: string;
const recorded: Recorded[] = [];
const answers: { status: number; body: unknown }[] = [];

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => resolve(text));
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    void readBody(req).then((body) => {
      recorded.push({ method: req.method ?? '', url: req.url ?? '', body });
      const answer = answers.shift() ?? { status: 500, body: { error: { code: 'NoAnswer', message: 'the test gave no answer' } } };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cli-'));
  endpoints = join(dir, 'endpoints.json');
  writeFileSync(endpoints, JSON.stringify({ api: `http://127.0.0.1:${port}/local`, region: 'us-east-1' }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  recorded.length = 0;
  answers.length = 0;
  vi.restoreAllMocks();
});

/** Runs the CLI; returns its exit code and what it printed on stdout. */
async function run(...args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const code = await main(['--endpoints', endpoints, ...args]);
  return { code, stdout };
}

const GRANT = { id: 'gr-rates-11111111111111111111111111111111', service: 'rates', caller: 'spiffe://example.org/team-a/*', kind: 'prefix', effect: 'Allow', methods: ['GET'], createdAt: '2025-01-01T00:00:00Z' };

describe('trellis policy explain', () => {
  it('asks GET /services/{name}/decision with the caller, method and path, and prints the verdict, the reason and the nearest grant', async () => {
    answers.push({
      status: 200,
      body: {
        service: 'rates',
        serviceArn: 'arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0c222222222222222',
        request: { caller: 'spiffe://example.org/team-a/api', method: 'POST', path: '/v1' },
        decision: 'DENY',
        evaluation: 'ImplicitDeny',
        statement: null,
        reason: 'no statement matched: no grant admits this caller, method and path',
        grants: [],
        policyState: 'in-sync',
        nearest: [{ grantId: GRANT.id, differs: ['method'], widened: { caller: GRANT.caller, methods: ['GET', 'POST'] }, segmentsUp: 0 }],
        blockedBy: [],
      },
    });
    const { code, stdout } = await run('policy', 'explain', '--service', 'rates', '--caller', 'spiffe://example.org/team-a/api', '--method', 'POST', '--path', '/v1');
    expect(code).toBe(0);
    const sent = recorded[0] as Recorded;
    expect(sent.method).toBe('GET');
    const url = new URL(sent.url, 'http://x');
    expect(url.pathname).toBe('/local/services/rates/decision');
    expect(Object.fromEntries(url.searchParams)).toEqual({ caller: 'spiffe://example.org/team-a/api', method: 'POST', path: '/v1' });
    expect(stdout).toContain('DENY: spiffe://example.org/team-a/api POST /v1 → rates');
    expect(stdout).toContain('no statement matched');
    expect(stdout).toMatch(new RegExp(`${GRANT.id}\\s+method\\s+spiffe://example.org/team-a/\\*\\s+GET,POST`));
  });

  it('sends no method or path it was not given (the API defaults them)', async () => {
    answers.push({ status: 400, body: { error: { code: 'ValidationFailed', message: 'bad', details: [{ field: 'caller', rule: 'scheme', message: 'a SPIFFE ID starts with spiffe://' }] } } });
    const { code } = await run('policy', 'explain', '--service', 'rates', '--caller', 'orders');
    expect(code).toBe(1);
    expect(Object.fromEntries(new URL((recorded[0] as Recorded).url, 'http://x').searchParams)).toEqual({ caller: 'orders' });
  });
});

const PREVIEW = {
  dryRun: true,
  change: 'create',
  grant: { ...GRANT, id: 'gr-rates-22222222222222222222222222222222', effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*', methods: ['POST'] },
  outcome: 'would-apply',
  error: null,
  policy: { before: { bytes: 300, statements: 1 }, after: { bytes: 480, statements: 2, limit: 10000, fits: true }, added: [{ Sid: 'DenyPrefixabc', Effect: 'Deny' }], removed: [] },
  access: { changes: [{ caller: 'spiffe://example.org/team-a/legacy/*', method: 'POST', pathPrefix: '*', before: 'ALLOW', after: 'DENY' }], truncated: false },
};

describe('trellis grants add/remove --dry-run', () => {
  it('add --dry-run POSTs the grant with dryRun=true and prints the diff, the size and whose access changes', async () => {
    answers.push({ status: 200, body: PREVIEW });
    const { code, stdout } = await run('grants', 'add', '--service', 'rates', '--caller', 'spiffe://example.org/team-a/legacy/*', '--method', 'POST', '--deny', '--dry-run');
    expect(code).toBe(0);
    const sent = recorded[0] as Recorded;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/local/grants?dryRun=true');
    expect(JSON.parse(sent.body)).toEqual({ service: 'rates', effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*', methods: ['POST'] });
    expect(stdout).toContain('would apply; nothing was changed');
    expect(stdout).toContain('480 of 10000 bytes, 2 statements');
    expect(stdout).toContain('+ {"Sid":"DenyPrefixabc","Effect":"Deny"}');
    expect(stdout).toMatch(/spiffe:\/\/example\.org\/team-a\/legacy\/\*\s+POST\s+\*\s+ALLOW\s+DENY/);
  });

  it('remove --dry-run sends DELETE with dryRun=true and deletes nothing', async () => {
    answers.push({ status: 200, body: { ...PREVIEW, change: 'delete', grant: GRANT, policy: { ...PREVIEW.policy, added: [], removed: [{ Sid: 'AllowPrefixAll' }] } } });
    const { code, stdout } = await run('grants', 'remove', GRANT.id, '--dry-run');
    expect(code).toBe(0);
    expect(recorded.map((r) => `${r.method} ${r.url}`)).toEqual([`DELETE /local/grants/${GRANT.id}?dryRun=true`]);
    expect(stdout).toContain('removing this grant would apply; nothing was changed');
  });
});

const setResult = (service: string, changed: boolean) => ({
  service,
  revision: 'a'.repeat(32),
  changed,
  dryRun: false,
  created: changed ? [GRANT] : [],
  deleted: [],
  policy: { added: changed ? [{ Sid: 'AllowPrefixAll' }] : [], removed: [], bytes: 400, limit: 10000 },
  access: { changes: changed ? [{ caller: GRANT.caller, method: 'GET', pathPrefix: '*', before: 'DENY', after: 'ALLOW' }] : [], truncated: false },
});

describe('trellis grants apply -f', () => {
  const file = (text: string): string => {
    const path = join(mkdtempSync(join(tmpdir(), 'trellis-grants-')), 'grants.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('PUTs each listed service\'s complete set, in file order, and prints what changed', async () => {
    answers.push({ status: 200, body: setResult('rates', true) }, { status: 200, body: setResult('billing', false) });
    const path = file(
      [
        'services:',
        '  rates:',
        '    - caller: spiffe://example.org/team-a/*',
        '      methods: [GET]',
        '    - effect: Deny',
        '      caller: spiffe://example.org/team-a/legacy/*',
        '  billing:',
        '    - caller: spiffe://example.org/service/orders',
        '',
      ].join('\n'),
    );
    const { code, stdout } = await run('grants', 'apply', '-f', path);
    expect(code).toBe(0);
    expect(recorded.map((r) => `${r.method} ${r.url}`)).toEqual(['PUT /local/services/rates/grants', 'PUT /local/services/billing/grants']);
    expect(JSON.parse((recorded[0] as Recorded).body)).toEqual({
      grants: [
        { caller: 'spiffe://example.org/team-a/*', methods: ['GET'] },
        { effect: 'Deny', caller: 'spiffe://example.org/team-a/legacy/*' },
      ],
    });
    expect(stdout).toMatch(/rates\s+yes\s+1\s+0/);
    expect(stdout).toMatch(/billing\s+no\s+0\s+0/);
    expect(stdout).toContain('applied');
  });

  it('--dry-run asks with dryRun=true; an empty list removes every grant of the service', async () => {
    answers.push({ status: 200, body: { ...setResult('rates', true), dryRun: true } });
    const { code, stdout } = await run('grants', 'apply', '-f', file('services:\n  rates: []\n'), '--dry-run');
    expect(code).toBe(0);
    expect(recorded.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual(['PUT /local/services/rates/grants?dryRun=true {"grants":[]}']);
    expect(stdout).toContain('dry run: nothing was changed');
  });

  it.each([
    ['services: [1]\n', 'services'],
    ['services:\n  rates:\n    - methods: [GET]\n', 'services.rates[0].caller'],
    ['services:\n  rates:\n    - caller: spiffe://example.org/a\n      verb: GET\n', 'services.rates[0].verb'],
    ['services:\n  rates:\n    - caller: spiffe://example.org/a\n      effect: deny\n', 'services.rates[0].effect'],
    ['services:\n  rates:\n', 'services.rates'],
  ])('refuses a malformed file before any request: %j', async (text, where) => {
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    const code = await main(['--endpoints', endpoints, 'grants', 'apply', '-f', file(text)]);
    expect(code).toBe(1);
    expect(recorded).toEqual([]);
    expect(stderr).toContain(`GrantsFileInvalid`);
    expect(stderr).toContain(`${where}:`);
  });
});

describe('trellis policy matrix', () => {
  it('prints callers × services from the grants', async () => {
    answers.push(
      { status: 200, body: { items: [{ name: 'rates', arn: 'arn:r', source: 'stage', createdAt: '', updatedAt: '' }, { name: 'billing', arn: 'arn:b', source: 'stage', createdAt: '', updatedAt: '' }] } },
      {
        status: 200,
        body: {
          items: [
            { ...GRANT, service: 'rates', caller: 'spiffe://example.org/service/orders', methods: undefined },
            { ...GRANT, service: 'billing', caller: 'spiffe://example.org/service/orders', methods: ['GET'], pathPrefixes: ['/v1/'] },
            { ...GRANT, service: 'rates', caller: 'spiffe://example.org/team-a/legacy/*', effect: 'Deny', methods: ['POST'] },
          ],
        },
      },
    );
    const { code, stdout } = await run('policy', 'matrix');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^CALLER\s+BILLING\s+RATES$/);
    expect(lines[1]).toMatch(/^spiffe:\/\/example\.org\/service\/orders\s+allow GET \/v1\/\s+allow$/);
    expect(lines[2]).toMatch(/^spiffe:\/\/example\.org\/team-a\/legacy\/\*\s+-\s+DENY POST$/);
  });
});
