/**
 * TrellisApi without a server: the transport is a recording double. Checks the SigV4 signature a
 * deployed stage needs (verified with @smithy/signature-v4 itself), the error mapping with its
 * fixes, pagination and the SvidPending/Retry-After reading.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { ApiError, TrellisApi, WorkloadEdgeError, workloadIdFor, type HttpResponse, type SendInput } from '@trellis/client';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token' };

function recorder(answers: HttpResponse[]): { sent: SendInput[]; send: (input: SendInput) => Promise<HttpResponse> } {
  const sent: SendInput[] = [];
  return {
    sent,
    send: async (input) => {
      sent.push(input);
      const answer = answers.shift();
      if (answer === undefined) throw new Error('no more answers');
      return answer;
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('TrellisApi', () => {
  it('signs every request for execute-api in the stage\'s region when signing is on', async () => {
    const { sent, send } = recorder([json(201, { id: 'wl-1' })]);
    const api = new TrellisApi({ baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev/', region: 'eu-west-1', sign: async () => CREDENTIALS, send });
    await api.registerWorkload({ spiffeId: 'spiffe://example.org/a', selectors: { awsPrincipalArns: [] } });
    const request = sent[0] as SendInput;
    expect(request.url.toString()).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/dev/workloads');
    const authorization = request.headers.authorization ?? '';
    expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    expect(request.headers['x-amz-security-token']).toBe('token');

    // the same request signed independently at the same instant gives the same signature
    const date = request.headers['x-amz-date'] ?? '';
    const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const unsigned = Object.fromEntries(Object.entries(request.headers).filter(([k]) => !['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'].includes(k)));
    const again = await new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials: CREDENTIALS, sha256: Sha256 }).sign(
      new HttpRequest({ method: 'POST', protocol: 'https:', hostname: request.url.hostname, path: request.url.pathname, headers: unsigned, body: request.body }),
      { signingDate },
    );
    expect(again.headers.authorization).toBe(authorization);
  });

  it('sends nothing signed to the local stack', async () => {
    const { sent, send } = recorder([json(200, { items: [] })]);
    await new TrellisApi({ baseUrl: 'http://127.0.0.1:3000/local', region: 'us-east-1', send }).listWorkloads();
    expect(sent[0]?.headers.authorization).toBeUndefined();
  });

  it('turns API errors into ApiError with the code, details and a fix', async () => {
    const details = [{ field: 'spiffeId', rule: 'dot-segment', message: 'no . or .. segments' }];
    const { send } = recorder([
      json(400, { error: { code: 'ValidationFailed', message: 'The request is invalid', details } }),
      json(409, { error: { code: 'WorkloadExists', message: 'already registered' } }),
      json(412, { error: { code: 'RevisionMismatch', message: 'at revision 2' } }),
      json(403, { message: 'User: arn:aws:iam::1:user/x is not authorized to perform: execute-api:Invoke' }),
    ]);
    const api = new TrellisApi({ baseUrl: 'http://api', region: 'us-east-1', send });
    const input = { spiffeId: 'spiffe://example.org/../a', selectors: { awsPrincipalArns: [] } };
    await expect(api.registerWorkload(input)).rejects.toMatchObject({ status: 400, code: 'ValidationFailed', details, fix: expect.stringContaining('spiffeId') });
    await expect(api.registerWorkload(input)).rejects.toMatchObject({ code: 'WorkloadExists', fix: expect.stringContaining('trellis workloads get') });
    await expect(api.updateWorkload('wl-1', 1, { selectors: { awsPrincipalArns: [] } })).rejects.toMatchObject({ code: 'RevisionMismatch', fix: expect.stringContaining('re-read') });
    // API Gateway's own refusal has no Trellis error body
    const forbidden = await api.listGrants().catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ApiError);
    expect(forbidden).toMatchObject({ status: 403, code: 'Forbidden', message: expect.stringContaining('execute-api:Invoke'), fix: expect.stringContaining('administrator') });
  });

  it('says what to check when the API cannot be reached', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3000'), { code: 'ECONNREFUSED' });
    const api = new TrellisApi({ baseUrl: 'http://127.0.0.1:3000/local', region: 'us-east-1', send: async () => Promise.reject(refused) });
    const error = await api.listServices().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadEdgeError);
    expect(error).toMatchObject({ code: 'ApiUnreachable', fix: expect.stringContaining('npm start') });
  });

  it('follows nextToken to the last page, keeping the filters', async () => {
    const grant = (id: string): Record<string, string> => ({ id, service: 'rates', caller: 'spiffe://example.org/a', kind: 'exact', createdAt: 'now' });
    const { sent, send } = recorder([json(200, { items: [grant('g1'), grant('g2')], nextToken: 't1' }), json(200, { items: [grant('g3')] })]);
    const items = await new TrellisApi({ baseUrl: 'http://api', region: 'us-east-1', send }).listGrants({ service: 'rates' });
    expect(items.map((g) => g.id)).toEqual(['g1', 'g2', 'g3']);
    expect(sent.map((r) => r.url.search)).toEqual(['?service=rates&limit=100', '?service=rates&limit=100&nextToken=t1']);
  });

  it('reads SvidPending with its Retry-After as pending; SvidIssuanceFailed throws', async () => {
    const { send } = recorder([
      json(404, { error: { code: 'SvidPending', message: 'being issued' } }, { 'retry-after': '1' }),
      json(409, { error: { code: 'SvidIssuanceFailed', message: 'refused', details: [{ field: 'csr', rule: 'dns', message: 'x' }] } }),
    ]);
    const api = new TrellisApi({ baseUrl: 'http://api', region: 'us-east-1', send });
    expect(await api.getSvid('wl-1')).toEqual({ kind: 'pending', retryAfterSeconds: 1, message: 'being issued' });
    await expect(api.getSvid('wl-1')).rejects.toMatchObject({ status: 409, code: 'SvidIssuanceFailed' });
  });

  it('finds a workload by SPIFFE ID through the id the API derives from it', async () => {
    const id = workloadIdFor('spiffe://example.org/a');
    expect(id).toMatch(/^wl-[0-9a-f]{32}$/);
    const { sent, send } = recorder([json(200, { id, spiffeId: 'spiffe://example.org/a' })]);
    await new TrellisApi({ baseUrl: 'http://api', region: 'us-east-1', send }).findWorkload('spiffe://example.org/a');
    expect(sent[0]?.url.pathname).toBe(`/workloads/${id}`);
  });
});
