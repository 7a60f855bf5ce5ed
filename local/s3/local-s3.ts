/**
 * A minimal Amazon S3 stand-in, path-style only (`/<bucket>/<key>`), file-backed under `dataDir`:
 * GetObject, HeadObject and PutObject, enough for the CRL bucket (the local ACM PCA writes its CRLs
 * here; the CRL import reads them with `@aws-sdk/client-s3`, `forcePathStyle`). Errors are S3's
 * restXml shape (`<Error><Code>NoSuchKey</Code>…`). Signatures are not checked.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { dirname, join, normalize, sep } from 'node:path';
import { closeServer, listen, readBody } from '../http-server';

export interface LocalS3 {
  endpoint: string;
  port: number;
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  get(bucket: string, key: string): Promise<Buffer | undefined>;
  stop(): Promise<void>;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_OBJECT_BYTES = 16 * 1024 * 1024;

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message.replace(/[<&>]/g, '')}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': crypto.randomUUID() });
  res.end(body);
}

export async function startLocalS3(options: { dataDir: string; port?: number; host?: string }): Promise<LocalS3> {
  const pathOf = (bucket: string, key: string): string | undefined => {
    if (!BUCKET.test(bucket) || key === '') return undefined;
    const full = normalize(join(options.dataDir, bucket, key));
    return full.startsWith(normalize(join(options.dataDir, bucket)) + sep) ? full : undefined;
  };
  const put = async (bucket: string, key: string, body: Uint8Array): Promise<void> => {
    const path = pathOf(bucket, key);
    if (path === undefined) throw new Error(`invalid bucket or key: ${bucket}/${key}`);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, path);
  };
  const get = async (bucket: string, key: string): Promise<Buffer | undefined> => {
    const path = pathOf(bucket, key);
    if (path === undefined) return undefined;
    return readFile(path).catch(() => undefined);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const [, bucket = '', ...rest] = url.pathname.split('/');
      const key = rest.map((p) => decodeURIComponent(p)).join('/');
      if (pathOf(bucket, key) === undefined) return xmlError(res, 400, 'InvalidRequest', 'use path-style /<bucket>/<key>');
      if (req.method === 'PUT') {
        const body = await readBody(req, MAX_OBJECT_BYTES);
        if (body === undefined) return xmlError(res, 400, 'EntityTooLarge', 'object too large for the local S3');
        await put(bucket, key, body);
        res.writeHead(200, { etag: `"${Buffer.from(body).length.toString(16)}"`, 'content-length': 0 });
        return res.end();
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const data = await get(bucket, key);
        if (data === undefined) return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
        return res.end(req.method === 'HEAD' ? undefined : data);
      }
      return xmlError(res, 405, 'MethodNotAllowed', 'the local S3 serves GET, HEAD and PUT');
    })().catch((error: unknown) => {
      if (!res.headersSent) xmlError(res, 500, 'InternalError', String(error));
      else res.destroy();
    });
  });
  const { port, urlHost } = await listen(server, options.port, options.host);
  return { endpoint: `http://${urlHost}:${port}`, port, put, get, stop: () => closeServer(server) };
}
