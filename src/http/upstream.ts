import { Readable } from 'node:stream';
import { HOP_BY_HOP, MRA_HEADER_PREFIX, type TunnelAnswer, type TunnelRequestHeaders } from '../traversal/index.js';
import { InsideClient, InsideError, type InsideRequest } from './inside-client.js';

const SMALL_ANSWER = 64 * 1024;

export interface UpstreamTarget {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Normalized path plus the query as the client sent it. */
  pathAndQuery: string;
}

/**
 * Core's connections to the inside servers (inside-client.ts: one keep-alive pool per origin, inside
 * certificates verified against the node's CA bundle). Answers stream back, so their size never sits in memory
 * unless it is small and known.
 */
export class Upstreams {
  readonly #client: InsideClient;

  constructor(opts: {
    ca: string;
    headersTimeoutMs?: number;
    bodyTimeoutMs?: number;
    connections?: number;
    localAddress?: string;
  }) {
    this.#client = new InsideClient({
      ca: opts.ca,
      connectTimeoutMs: 5_000,
      headersTimeoutMs: opts.headersTimeoutMs ?? 30_000,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 60_000,
      // Requests to one inside server wait for a free connection (one request at a time on each); a small pool
      // caps throughput at pool size / inside latency, so it is sized for a thousand clients at once.
      connections: opts.connections ?? 256,
      keepAliveMs: 30_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
  }

  async forward(
    method: string,
    target: UpstreamTarget,
    headers: TunnelRequestHeaders,
    body: Readable | undefined,
  ): Promise<TunnelAnswer> {
    const out: Record<string, string | string[]> = {};
    for (const k in headers) {
      const v = headers[k];
      if (
        k.startsWith(':') ||
        k === 'host' ||
        HOP_BY_HOP.has(k) ||
        k.startsWith(MRA_HEADER_PREFIX) ||
        k === 'content-length' ||
        v === undefined
      )
        continue;
      if (k === 'cookie') {
        // The X-Auth session belongs to the edge proxy; the inside server never needs it.
        const kept = String(v)
          .split(/;\s*/)
          .filter((c) => !/^x-auth=/i.test(c))
          .join('; ');
        if (kept) out[k] = kept;
        continue;
      }
      out[k] = v;
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    try {
      // The edge read the body whole (within its limit) before sending it: it leaves here as one write too.
      const data = hasBody && body ? await readAll(body) : undefined;
      if (hasBody) out['content-length'] = String(data?.length ?? 0);
      return await this.#exchange({
        scheme: target.scheme,
        host: target.host,
        port: target.port,
        method,
        path: target.pathAndQuery,
        headers: out,
        ...(data ? { body: data } : {}),
      });
    } catch (err) {
      const timeout = err instanceof InsideError && err.kind === 'timeout';
      return {
        status: timeout ? 504 : 502,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `inside server ${target.host}:${target.port} ${timeout ? 'did not answer in time' : 'is unreachable'}: ${(err as Error).message}\n`,
      };
    }
  }

  /**
   * One exchange. Most answers (UDS records, config files) are small and sized: they are gathered and go back
   * as one frame. Larger or unsized ones stream with backpressure (the inside connection is paused while the
   * tunnel stream is full), and destroying that stream (the client went away) aborts the inside request.
   */
  #exchange(req: InsideRequest): Promise<TunnelAnswer> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: Record<string, string | string[]> = {};
      const chunks: Buffer[] = [];
      let stream: Readable | undefined;
      const ctl = this.#client.request(req, {
        onHead: (statusCode, raw) => {
          status = statusCode;
          headers = {};
          for (const k in raw) if (!HOP_BY_HOP.has(k) && k !== 'content-length') headers[k] = raw[k]!;
          if (Number(raw['content-length'] ?? NaN) <= SMALL_ANSWER) return;
          stream = new Readable({
            read: () => ctl.resume(),
            destroy: (err, cb) => {
              ctl.abort();
              cb(err);
            },
          });
          resolve({ status, headers, body: stream });
        },
        onData: (chunk) => {
          if (stream) return stream.push(chunk);
          chunks.push(chunk);
          return true;
        },
        onEnd: () => {
          if (stream) stream.push(null);
          else resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        },
        onError: (err) => {
          if (stream) stream.destroy(err);
          else reject(err);
        },
      });
    });
  }

  /** For core's own look-ups (credential checks, token keys): small answers read whole. */
  async fetchText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const u = new URL(url);
    const scheme = u.protocol === 'http:' ? 'http' : 'https';
    const answer = await this.#exchange({
      scheme,
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port || (scheme === 'http' ? 80 : 443)),
      method: 'GET',
      path: u.pathname + u.search,
      headers,
    });
    const body = answer.body instanceof Readable ? await readAll(answer.body) : (answer.body ?? '');
    return { status: answer.status, text: body.toString() };
  }

  close(): void {
    this.#client.close();
  }
}

/** A body read whole, without destroying its stream (a tunnel stream must live on to carry the answer). */
function readAll(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once('error', reject);
    body.once('close', () => reject(new Error('the request body was cut off')));
  });
}
