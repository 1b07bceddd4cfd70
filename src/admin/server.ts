import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log/index.js';

export interface AdminOptions {
  address: string;
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  log: Logger;
  /** The node's status document, read fresh for each request. */
  status: () => unknown;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The node's admin API: loopback by default, token-protected when exposed. */
export async function startAdmin(opts: AdminOptions): Promise<AdminServer> {
  const server = createServer((req, res) => {
    if (!authorized(req, opts.token)) return send(res, 401, { error: 'missing or wrong bearer token' });
    if (req.method !== 'GET') return send(res, 405, { error: `method ${req.method} not allowed` });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(res, 200, { ok: true });
    if (path === '/api/status') {
      try {
        return send(res, 200, opts.status());
      } catch (err) {
        opts.log.error({ err }, 'status failed');
        return send(res, 500, { error: 'status unavailable' });
      }
    }
    return send(res, 404, { error: `no such resource: ${path}` });
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.log.info({ address: opts.address, port }, 'admin API listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
