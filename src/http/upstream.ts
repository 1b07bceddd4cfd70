import { Agent, errors as undiciErrors, util as undiciUtil, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http2';
import { PassThrough, Readable } from 'node:stream';
import { HOP_BY_HOP, MRA_HEADER_PREFIX } from './tunnel-protocol.js';
import type { TunnelAnswer } from './tunnel-core.js';

const SMALL_ANSWER = 64 * 1024;

export interface UpstreamTarget {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Normalized path plus the query as the client sent it. */
  pathAndQuery: string;
}

/**
 * Core's connections to the inside servers: one keep-alive pool per origin (undici), verifying inside
 * certificates against the node's CA bundle. The request body streams from the tunnel to the upstream and the
 * answer streams back, so neither end's size sits in memory.
 */
export class Upstreams {
  readonly #agent: Agent;

  constructor(opts: { ca: string; headersTimeoutMs?: number; bodyTimeoutMs?: number; connections?: number }) {
    this.#agent = new Agent({
      connect: { ca: opts.ca, rejectUnauthorized: true, timeout: 5_000 },
      headersTimeout: opts.headersTimeoutMs ?? 30_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
      // Requests to one inside server wait for a free connection (one request at a time on each); a small pool
      // caps throughput at pool size / inside latency, so it is sized for a thousand clients at once.
      connections: opts.connections ?? 256,
      keepAliveTimeout: 30_000,
    });
  }

  async forward(method: string, target: UpstreamTarget, headers: IncomingHttpHeaders, body: Readable | undefined): Promise<TunnelAnswer> {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(':') || k === 'host' || HOP_BY_HOP.has(k) || k.startsWith(MRA_HEADER_PREFIX) || k === 'content-length' || v === undefined) continue;
      if (k === 'cookie') {
        // The X-Auth session belongs to the edge proxy; the inside server never needs it.
        const kept = String(v).split(/;\s*/).filter((c) => !/^x-auth=/i.test(c)).join('; ');
        if (kept) out[k] = kept;
        continue;
      }
      out[k] = v;
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    if (hasBody && headers['content-length'] !== undefined) out['content-length'] = String(headers['content-length']);
    try {
      return await this.#exchange({
        origin: `${target.scheme}://${target.host}:${target.port}`,
        path: target.pathAndQuery,
        method: method as 'GET',
        headers: out,
        // undici destroys a body stream once it has read it; the tunnel stream must live on to carry the answer.
        body: hasBody && body ? body.pipe(new PassThrough()) : undefined,
      });
    } catch (err) {
      const timeout = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
      return { status: timeout ? 504 : 502, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `inside server ${target.host}:${target.port} ${timeout ? 'did not answer in time' : 'is unreachable'}: ${(err as Error).message}\n` };
    }
  }

  /**
   * One request on the pool through undici's dispatch interface rather than request(): no per-request async
   * resource and no body stream for the common small answer, which profiling showed as a large share of core's
   * CPU per proxied request. Most answers (UDS records, config files) are small and sized: they are gathered and
   * go back as one DATA frame. Larger or unsized ones stream with backpressure (undici is paused while the tunnel
   * stream is full), and destroying that stream (the client went away) aborts the inside request.
   */
  #exchange(opts: Dispatcher.DispatchOptions): Promise<TunnelAnswer> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: Record<string, string | string[]> = {};
      const chunks: Buffer[] = [];
      let stream: Readable | undefined;
      let abort: (err?: Error) => void = () => {};
      let finished = false;
      this.#agent.dispatch(opts, {
        onConnect: (a) => void (abort = a),
        onHeaders: (statusCode, raw, resume) => {
          if (statusCode < 200) return true; // 1xx: the final answer follows
          status = statusCode;
          const parsed = undiciUtil.parseHeaders(raw) as Record<string, string | string[] | undefined>;
          headers = {};
          for (const [k, v] of Object.entries(parsed)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'content-length') headers[k] = v;
          if (Number(parsed['content-length'] ?? NaN) <= SMALL_ANSWER) return true;
          stream = new Readable({
            read: () => resume(),
            destroy: (err, cb) => {
              if (!finished) abort(err ?? new Error('the answer is no longer wanted'));
              cb(err);
            },
          });
          resolve({ status, headers, body: stream });
          return true;
        },
        onData: (chunk) => {
          if (stream) return stream.push(chunk);
          chunks.push(chunk);
          return true;
        },
        onComplete: () => {
          finished = true;
          if (stream) stream.push(null);
          else resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        },
        onError: (err) => {
          finished = true;
          if (stream) stream.destroy(err);
          else reject(err);
        },
      });
    });
  }

  /** For core's own look-ups (credential checks, token keys): small answers read whole. */
  async fetchText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const u = new URL(url);
    const res = await this.#agent.request({ origin: u.origin, path: u.pathname + u.search, method: 'GET', headers });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
