import type { EdgeRequest, EdgeResponse } from './edge-exchange.js';
import {
  HOP_BY_HOP,
  MAINTENANCE_HEADER,
  MRA_HEADER_PREFIX,
  VERDICT_HEADER,
  type EdgeTunnel,
  type TunnelHeaders,
  type Verdict,
} from '../traversal/index.js';

/** Answers up to this size are gathered whole before they go to the client; core sends them as one frame. */
const SMALL_ANSWER = 64 * 1024;

export interface ForwardInfo {
  clientAddress: string;
  /** The edge's public identity, for the edge-config answer core builds. */
  edgeIdentity: string;
  /** The edge is in maintenance mode: core refuses new sign-ins through it. */
  maintenance: boolean;
}

/**
 * Sends one client request through the tunnel, one tunnel stream per request, and its answer back; resolves
 * with core's verdict once the response has ended. A client never waits on a tunnel that is not there: it is
 * answered 503 (or 502 when the tunnel drops the request) with Retry-After.
 */
export function forward(
  tunnel: EdgeTunnel,
  req: EdgeRequest,
  res: EdgeResponse,
  body: Buffer,
  info: ForwardInfo,
): Promise<Verdict> {
  const headers: TunnelHeaders = {
    [`${MRA_HEADER_PREFIX}client-address`]: info.clientAddress,
    [`${MRA_HEADER_PREFIX}edge`]: info.edgeIdentity,
  };
  if (info.maintenance) headers[MAINTENANCE_HEADER] = '1';
  copyRequestHeaders(req.headers, headers);
  if (body.length) headers['content-length'] = String(body.length);
  headers[':authority'] = (req.headers.host ?? req.headers[':authority'] ?? 'edge') as string;
  return new Promise<Verdict>((resolve) => {
    let verdict: Verdict;
    let status = 0;
    let out: Record<string, string | string[]> = {};
    let gathered: Buffer[] | undefined;
    let streaming = false;
    const answer = (h: Record<string, unknown>, end: boolean) => {
      const hh = (h.h ?? {}) as Record<string, string | string[]>;
      verdict = hh[VERDICT_HEADER] as Verdict;
      status = Number(h.s);
      out = {};
      for (const k in hh) {
        if (k.startsWith(MRA_HEADER_PREFIX) || HOP_BY_HOP.has(k)) continue;
        out[k] = hh[k]!;
      }
      if (res.headersSent || res.destroyed) return void upstream.reset();
      if (end) {
        res.writeHead(status, out);
        return void res.end();
      }
      // Most answers are small and sized (core reads them whole): gathered, they leave as one write with the
      // head. Others stream, the tunnel stream's window following the client's reading.
      if (Number(hh['content-length'] ?? NaN) <= SMALL_ANSWER) gathered = [];
      else {
        res.writeHead(status, out);
        streaming = true;
      }
    };
    const data = (c: Buffer, end: boolean) => {
      if (gathered) {
        if (c.length) gathered.push(c);
        if (!end || res.destroyed) return;
        res.writeHead(status, out);
        return void res.end(gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered));
      }
      if (!streaming) return;
      if (c.length && !res.write(c) && !end) {
        upstream.pause();
        res.once('drain', () => upstream.resume());
      }
      if (end) res.end();
    };
    const opened = tunnel.openStream({ m: req.method ?? 'GET', p: req.url ?? '/', h: headers }, body.length === 0, {
      head: answer,
      data,
      reset: () => {
        // Core resets a stream whose body it did not read once its answer is whole: nothing is lost then.
        if (upstream.recvEnd) return;
        if (!res.headersSent) unavailable(res, 'the HTTP tunnel dropped this request; retry', 502);
        else res.destroy();
      },
    });
    if (typeof opened === 'string') {
      unavailable(
        res,
        opened === 'no-tunnel'
          ? 'the inside is not reachable at the moment (no HTTP tunnel); retry shortly'
          : 'the HTTP tunnel is busy or closing; retry shortly',
      );
      return resolve(undefined);
    }
    const upstream = opened;
    if (body.length) upstream.sendData(body, true);
    res.on('close', () => {
      // The client went away (or its answer is done): whatever core still has for it is not wanted.
      if (!upstream.done) upstream.reset();
      resolve(verdict);
    });
  });
}

function copyRequestHeaders(from: EdgeRequest['headers'], to: TunnelHeaders): void {
  for (const k in from) {
    const v = from[k];
    // Client-sent x-mra-* headers would otherwise pass as the edge's own word to core.
    // content-length is the edge's to state: the body is already read whole (a chunked one has none).
    if (
      k.startsWith(':') ||
      k === 'host' ||
      k === 'content-length' ||
      HOP_BY_HOP.has(k) ||
      k.startsWith(MRA_HEADER_PREFIX) ||
      v === undefined
    )
      continue;
    to[k] = v;
  }
}

/** A short plain-text answer with its length, so a keep-alive client knows where it ends. */
export function answerText(
  res: EdgeResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** 503/502 with Retry-After: what a client sees while the tunnel is down or drops, never a hang. */
export function unavailable(res: EdgeResponse, reason: string, status: 502 | 503 = 503): void {
  answerText(res, status, `${reason}\n`, { 'retry-after': '2' });
}
