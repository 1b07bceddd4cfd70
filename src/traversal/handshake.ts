import type { Duplex } from 'node:stream';
import { MraError } from '../host/index.js';

/**
 * The first exchange on every traversal channel, after mutual TLS: core says who it is and what the channel
 * carries, the edge accepts or refuses with a reason. One JSON line each way; then the channel's own protocol.
 */
// 2: the HTTP and XMPP channels carry mux-frames.ts framing (it was HTTP/2). A release that changes what any
// channel carries takes the next number, so edge and core of different releases refuse each other by name.
export const PROTOCOL = 'mra-traversal/2';
const ANY_VERSION = /^mra-traversal\/\d+$/;
export const CHANNEL_KINDS = ['sip', 'http', 'xmpp'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export interface Hello {
  mra: typeof PROTOCOL;
  channel: ChannelKind;
  username: string;
  password: string;
  node: string;
}

export type RefusalCode = 'certificate' | 'credentials' | 'protocol' | 'channel';
export type Reply =
  | { mra: typeof PROTOCOL; ok: true; node: string; keepalive_s: number }
  | { mra: typeof PROTOCOL; ok: false; error: RefusalCode; reason: string };

const MAX_LINE = 4096;

const REFUSALS: readonly RefusalCode[] = ['certificate', 'credentials', 'protocol', 'channel'];

/** A refusal's stable code, e.g. MRA_TRAVERSAL_CREDENTIALS; one the edge names that this release does not know is PROTOCOL. */
export const refusalCode = (kind: string): string =>
  `MRA_TRAVERSAL_${(REFUSALS.includes(kind as RefusalCode) || kind === 'timeout' || kind === 'closed' ? kind : 'protocol').toUpperCase()}`;

export class HandshakeError extends MraError {
  constructor(
    /** What failed: a refusal's reason, or the peer went silent (timeout) or away (closed). */
    readonly kind: RefusalCode | 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }

  get code(): string {
    return refusalCode(this.kind);
  }
}

/**
 * Reads one newline-terminated line and puts back whatever followed it, so the channel's protocol sees every
 * byte. Bounded in size and time: a peer that sends nothing or too much is cut off.
 */
export function readLine(stream: Duplex, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    // 'readable' rather than 'data': once it is removed the stream is neither flowing nor paused, so the
    // channel's consumer (a 'data' listener, an HTTP/2 session) starts it the ordinary way.
    const done = (err: Error | null, result?: { line: string; rest: Buffer }) => {
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('close', onClose);
      stream.off('error', onError);
      if (err) return reject(err);
      if (result!.rest.length) stream.unshift(result!.rest);
      resolve(result!.line);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        const nl = buf.indexOf(10);
        if (nl >= 0)
          return done(null, {
            line: buf.subarray(0, nl).toString('utf8').replace(/\r$/, ''),
            rest: buf.subarray(nl + 1),
          });
        if (buf.length > MAX_LINE) return done(new HandshakeError('protocol', 'handshake line too long'));
      }
    };
    const onClose = () => done(new HandshakeError('closed', 'connection closed during the handshake'));
    const onError = (err: Error) =>
      done(new HandshakeError('closed', `connection error during the handshake: ${err.message}`));
    const timer = setTimeout(
      () => done(new HandshakeError('timeout', `no handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    stream.on('readable', onReadable);
    stream.once('close', onClose);
    stream.once('error', onError);
  });
}

function parseJsonLine(line: string, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new HandshakeError('protocol', `${what} is not JSON`);
  }
}

/** A peer of another release names its version: refused with both named, not as a stranger. */
function sameRelease(mra: unknown, peer: 'core' | 'the edge', self: 'edge' | 'core'): void {
  if (typeof mra === 'string' && ANY_VERSION.test(mra) && mra !== PROTOCOL)
    throw new HandshakeError(
      'protocol',
      `${peer} speaks ${mra}, this ${self} ${PROTOCOL}: edge and core must run the same release`,
    );
}

export function parseHello(line: string): Hello {
  const h = parseJsonLine(line, 'hello') as Partial<Hello>;
  sameRelease(h?.mra, 'core', 'edge');
  if (h?.mra !== PROTOCOL) throw new HandshakeError('protocol', `expected protocol ${PROTOCOL}`);
  if (!CHANNEL_KINDS.includes(h.channel as ChannelKind)) throw new HandshakeError('protocol', 'unknown channel kind');
  for (const f of ['username', 'password', 'node'] as const)
    if (typeof h[f] !== 'string' || h[f]!.length === 0 || h[f]!.length > 256)
      throw new HandshakeError('protocol', `hello field ${f} missing or too long`);
  return h as Hello;
}

export function parseReply(line: string): Reply {
  const r = parseJsonLine(line, 'reply') as Reply;
  const mra = (r as { mra?: unknown } | null)?.mra;
  sameRelease(mra, 'the edge', 'core');
  if (mra !== PROTOCOL || typeof r.ok !== 'boolean') throw new HandshakeError('protocol', 'not a traversal reply');
  return r;
}

export const line = (msg: Hello | Reply): string => `${JSON.stringify(msg)}\n`;
