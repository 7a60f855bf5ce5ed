/**
 * Local IAM Roles Anywhere: `POST /sessions` (CreateSession) over plain HTTP, one trust anchor,
 * one profile, one role; the trust anchor's imported CRLs (ImportCrl, ListCrls, UpdateCrl,
 * EnableCrl, DisableCrl: crls.ts), which CreateSession honours. Credentials it issues go into `credentials`, which the local Lattice
 * data plane reads (with verifySigV4Request) to authenticate SigV4 callers.
 */
import { closeServer, listen, readBody } from '../http-server';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSession, type AwsAnswer } from './create-session';
import { CrlStore } from './crls';
import { InMemoryCredentialStore, parseRoleArn } from './credentials';

export interface StartRolesAnywhereOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
  /** Defaults to the account of `roleArn`. */
  accountId?: string;
  roleArn: string;
  profileArn: string;
  trustAnchorArn: string;
  /** The trust anchor's CA certificate PEM(s), read on every request (the CA may rotate). */
  trustAnchors: () => string[];
  /** durationSeconds when the request has none (the profile default, 3600). */
  sessionDurationDefault?: number;
  /** Clock for X-Amz-Date, certificate validity and expirations (tests inject a fake one). */
  now?: () => Date;
  /** true: JSON lines to stderr; a function receives each entry instead. Off by default. */
  log?: boolean | ((entry: Record<string, unknown>) => void);
  /** The role trust policy's StringLike conditions on principal tags (serverless.yml WorkloadRole). */
  roleTagConditions?: { key: string; pattern: string }[];
}

export interface RolesAnywhereHandle {
  /** e.g. http://127.0.0.1:41234 — pass as `endpoint` to createSession. */
  endpoint: string;
  port: number;
  region: string;
  credentials: InMemoryCredentialStore;
  crls: CrlStore;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
/** ImportCrl's crlData is at most 300,000 characters, base64 in JSON. */
const MAX_CRL_BODY_BYTES = 512 * 1024;


function answer(res: ServerResponse, result: AwsAnswer): void {
  const payload = JSON.stringify(result.body);
  res.writeHead(result.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(result.errorType === undefined ? {} : { 'x-amzn-errortype': result.errorType }),
  });
  res.end(payload);
}

export async function startRolesAnywhere(options: StartRolesAnywhereOptions): Promise<RolesAnywhereHandle> {
  const region = options.region ?? 'us-east-1';
  const role = parseRoleArn(options.roleArn);
  const now = options.now ?? (() => new Date());
  const store = new InMemoryCredentialStore(now);
  const emit = (entry: Record<string, unknown>): void => {
    if (typeof options.log === 'function') options.log(entry);
    else if (options.log === true) process.stderr.write(`${JSON.stringify({ component: 'local-roles-anywhere', ...entry })}\n`);
  };
  const crls = new CrlStore({
    region,
    accountId: options.accountId ?? role.accountId,
    partition: role.partition,
    trustAnchorArn: options.trustAnchorArn,
    trustAnchors: options.trustAnchors,
    now,
  });
  const config = {
    region,
    accountId: options.accountId ?? role.accountId,
    partition: role.partition,
    roleArn: options.roleArn,
    profileArn: options.profileArn,
    trustAnchorArn: options.trustAnchorArn,
    trustAnchors: options.trustAnchors,
    sessionDurationDefault: options.sessionDurationDefault ?? 3600,
    now,
    store,
    warn: (message: string, fields: Record<string, unknown>) => emit({ level: 'WARN', message, ...fields }),
    revokedBy: (cert: Parameters<CrlStore['revokedBy']>[0]) => crls.revokedBy(cert),
    ...(options.roleTagConditions === undefined ? {} : { roleTagConditions: options.roleTagConditions }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/crls' || path.startsWith('/crl/')) {
      const raw = req.method === 'GET' || req.method === 'DELETE' ? undefined : await readBody(req, MAX_CRL_BODY_BYTES);
      let body: Record<string, unknown> | undefined;
      if (raw !== undefined && raw.length > 0) {
        try {
          const parsed: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
        } catch {
          body = undefined;
        }
      } else if (raw !== undefined) body = {};
      const result = (await crls.handle(req.method ?? 'GET', path, body)) ?? { status: 404, errorType: 'ResourceNotFoundException', body: { message: `no route for ${path}` } };
      emit({ level: result.status < 300 ? 'INFO' : 'WARN', message: 'CRL API', method: req.method, path, status: result.status });
      return answer(res, result);
    }
    if (path !== '/sessions') return answer(res, { status: 404, errorType: 'ResourceNotFoundException', body: { message: `no route for ${path}` } });
    if (req.method !== 'POST') return answer(res, { status: 405, errorType: 'MethodNotAllowedException', body: { message: 'use POST /sessions' } });
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) return answer(res, { status: 413, errorType: 'ValidationException', body: { message: 'request body too large' } });
    const result = await createSession({ method: 'POST', path, rawQuery: q < 0 ? '' : url.slice(q + 1), headers: req.headers, body }, config);
    emit({ level: result.status < 300 ? 'INFO' : 'WARN', message: 'CreateSession', status: result.status, ...(result.errorType === undefined ? {} : { error: result.errorType, reason: result.body.message }) });
    answer(res, result);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      emit({ level: 'ERROR', message: 'CreateSession failed', error: (err as Error).message });
      if (!res.headersSent) answer(res, { status: 500, errorType: 'InternalServerException', body: { message: 'internal error' } });
      else res.destroy();
    });
  });
  const { port, urlHost } = await listen(server, options.port, options.host);
  return {
    endpoint: `http://${urlHost}:${port}`,
    port,
    region,
    credentials: store,
    crls,
    stop: () => closeServer(server),
  };
}
