/** Listening and stopping, shared by every local stand-in. */
import type { Server } from 'node:net';

export interface Listening {
  port: number;
  /** The host to put in a URL: a wildcard address becomes loopback, IPv6 is bracketed. */
  urlHost: string;
}

/** Listens on `port` (0 = a free port) and resolves once bound; rejects with the bind error (e.g. EADDRINUSE). */
export async function listen(server: Server, port: number | undefined, host = '127.0.0.1'): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  const name = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return { port: bound, urlHost: name.includes(':') ? `[${name}]` : name };
}

/** Stops accepting and drops kept-alive connections, so stopping does not wait for idle clients. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections?.();
  });
}

/**
 * Reads a request body of at most `maxBytes`; undefined when it is larger (the rest is drained,
 * not kept), so each stand-in answers with its own service's error.
 */
export async function readBody(req: AsyncIterable<unknown>, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= maxBytes) chunks.push(buffer);
  }
  return size > maxBytes ? undefined : Buffer.concat(chunks);
}
