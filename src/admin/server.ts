import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log/index.js';
import type { Alarm } from './alarms.js';
import { createMetrics } from './metrics.js';
import { STATUS_PAGE } from './page.js';
import { callsOf, filterByAddress } from './queries.js';
import { isLoopback } from '../config/index.js';
import { MraError } from '../host/index.js';

/** What the admin API may change on the node; the node's context handle provides it. */
export interface AdminControl {
  setMaintenance(on: boolean): void;
  action(name: string): ((input: Record<string, unknown>) => Promise<unknown>) | undefined;
  /** A list a plane offers (registrations); undefined when this node has none of that name. */
  query?(name: string): (() => Promise<unknown[]> | unknown[]) | undefined;
  alarms(): Alarm[];
  acknowledge?(id: string): boolean;
}

/** HTTPS for the admin API (required off loopback); `clientCa` makes TLS itself demand a client certificate it signed. */
export interface AdminTls {
  cert: string;
  key: string;
  clientCa?: string;
}

export interface AdminOptions {
  address: string;
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  tls?: AdminTls;
  log: Logger;
  /** The node's status document, read fresh for each request. */
  status: () => unknown;
  /** Without it the API is read-only (status, metrics, page). */
  control?: AdminControl;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

// Operator requests are a few bytes of JSON; anything bigger is a mistake or an attack.
const MAX_BODY = 4096;

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendText(res: ServerResponse, code: number, type: string, text: string): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const got = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) return reject(new Error(`body larger than ${MAX_BODY} bytes`));
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** The node's admin API: loopback by default, token-protected when exposed. */
export async function startAdmin(opts: AdminOptions): Promise<AdminServer> {
  const readStatus = () => {
    const doc = opts.status() as Record<string, unknown>;
    return { doc, alarms: Array.isArray(doc.alarms) ? (doc.alarms as Alarm[]) : (opts.control?.alarms() ?? []) };
  };
  const metrics = createMetrics(readStatus, String((opts.status() as Record<string, unknown>).role ?? 'node'));

  async function post(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const control = opts.control;
    if (!control) return send(res, 405, { error: 'this admin API is read-only' });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (err) {
      return send(res, 400, { error: (err as Error).message });
    }
    if (path === '/api/maintenance') {
      const on = (body as { on?: unknown }).on;
      if (typeof on !== 'boolean') return send(res, 400, { error: 'body must be {"on": true} or {"on": false}' });
      control.setMaintenance(on);
      return send(res, 200, { maintenance: on });
    }
    const ack = /^\/api\/alarms\/([^/]+)\/acknowledge$/.exec(path)?.[1];
    if (ack !== undefined) {
      const id = decodeURIComponent(ack);
      if (!control.acknowledge?.(id)) return send(res, 404, { error: `no active alarm ${id}` });
      return send(res, 200, { acknowledged: id });
    }
    const name = /^\/api\/actions\/([a-z0-9-]+)$/.exec(path)?.[1];
    const run = name ? control.action(name) : undefined;
    if (!run) return send(res, 404, { error: `no such action: ${path}` });
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return send(res, 400, { error: 'body must be a JSON object' });
    try {
      return send(res, 200, { action: name, result: await run(body as Record<string, unknown>) });
    } catch (err) {
      // An action's own refusal (an MraError with a status: BadInput 400 naming the field, 409, 503) is the operator's to
      // act on; anything else is the node's fault.
      const own = err instanceof MraError ? (err as { status?: unknown }).status : undefined;
      const status = typeof own === 'number' ? own : 500;
      if (status === 500) opts.log.error({ action: name, err: (err as Error).message }, 'admin action failed');
      else opts.log.warn({ action: name, err: (err as Error).message }, 'admin action refused');
      return send(res, status, { action: name, error: (err as Error).message });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    // The page is static and holds no data; its script sends the token for everything it reads.
    if (req.method === 'GET' && (path === '/' || path === '/status'))
      return sendText(res, 200, 'text/html; charset=utf-8', STATUS_PAGE);
    if (!authorized(req, opts.token)) return send(res, 401, { error: 'missing or wrong bearer token' });
    if (req.method === 'POST') return post(path, req, res);
    if (req.method !== 'GET') return send(res, 405, { error: `method ${req.method} not allowed` });
    if (path === '/healthz') return send(res, 200, { ok: true });
    if (path === '/api/status') return send(res, 200, opts.status());
    if (path === '/metrics') return sendText(res, 200, metrics.contentType, await metrics.scrape());
    if (path === '/api/alarms') return send(res, 200, readStatus().alarms);
    const params = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    if (path === '/api/calls') return send(res, 200, callsOf(opts.status() as Record<string, unknown>, params));
    const call = /^\/api\/calls\/([^/]+)$/.exec(path)?.[1];
    if (call !== undefined) {
      const found = callsOf(
        opts.status() as Record<string, unknown>,
        new URLSearchParams({ id: decodeURIComponent(call) }),
      );
      return found.length
        ? send(res, 200, found[0])
        : send(res, 404, { error: `no call ${decodeURIComponent(call)} through this node` });
    }
    const query = /^\/api\/([a-z][a-z0-9-]*)$/.exec(path)?.[1];
    const list = query ? opts.control?.query?.(query) : undefined;
    if (list) return send(res, 200, filterByAddress(await list(), params));
    return send(res, 404, { error: `no such resource: ${path}` });
  }

  if (!opts.tls && !isLoopback(opts.address))
    throw new Error(
      `admin API on ${opts.address}: off loopback it needs TLS (admin.tls) and a token or client certificates`,
    );
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: Error) => {
      opts.log.error({ err: err.message, url: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error; see the node log' });
      else res.destroy();
    });
  };
  const server = opts.tls
    ? createHttpsServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          minVersion: 'TLSv1.2',
          ...(opts.tls.clientCa ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  server.on('tlsClientError', (err, socket) =>
    opts.log.warn({ remote: socket.remoteAddress, err: err.message }, 'admin API TLS handshake failed'),
  );
  server.headersTimeout = 5000;
  server.requestTimeout = 10000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.log.info(
    { address: opts.address, port, tls: !!opts.tls, clientCertificates: !!opts.tls?.clientCa, token: !!opts.token },
    'admin API listening',
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
