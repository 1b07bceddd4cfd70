// The ng control socket: UDP as Kamailio's and OpenSIPS's rtpengine modules speak it, and optionally TCP and TLS
// (rtpengine's tcp-ng framing). Each message: the source checked against ng.allow, a retransmission answered from
// the cookie cache, the dictionary decoded, the command run, the reply framed under the request's cookie.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../../log/index.js';
import { listenOn } from '../../util/listen.js';
import { NgDecodeError, type NgDict, type NgInput } from './bencode.js';
import { CookieCache } from './cookie-cache.js';
import { NgFramingError, NgStreamFramer, frame, parseDatagram, requestDict, type NgFrame } from './message.js';

export type NgTransport = 'udp' | 'tcp' | 'tls';
export interface NgSource {
  address: string;
  port: number;
  transport: NgTransport;
}

/** Runs one command: the reply dictionary (result ok/pong/error/load limit and its keys). */
export type NgHandler = (request: NgDict, source: NgSource) => NgInput;

export interface NgListen {
  address: string;
  port: number;
}

export interface NgServerOptions {
  udp: NgListen;
  tcp?: NgListen;
  tls?: NgListen & { cert: string; key: string; ca?: string };
  allowed: (address: string) => boolean;
  cookieCacheMs: number;
  maxMessageBytes: number;
  handle: NgHandler;
  log: Logger;
}

export const NOT_ALLOWED = 'control source not allowed';
const error = (reason: string) => ({ result: 'error', 'error-reason': reason });

export class NgServer {
  readonly counters = { messages: 0, duplicates: 0, malformed: 0, notAllowed: 0, connections: 0 };
  readonly ports: { udp: number; tcp?: number; tls?: number } = { udp: 0 };
  readonly #opts: NgServerOptions;
  readonly #cache: CookieCache;
  readonly #udp: UdpSocket;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  #lastRefusalLog = 0;

  private constructor(opts: NgServerOptions) {
    this.#opts = opts;
    this.#cache = new CookieCache(opts.cookieCacheMs);
    this.#udp = createSocket({ type: 'udp4', reuseAddr: false });
  }

  static async start(opts: NgServerOptions): Promise<NgServer> {
    const s = new NgServer(opts);
    try {
      await s.#startUdp();
      if (opts.tcp) s.ports.tcp = await s.#listen(createTcpServer(), opts.tcp, 'tcp');
      if (opts.tls) {
        const t = opts.tls;
        const server = createTlsServer({
          cert: t.cert,
          key: t.key,
          ...(t.ca ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {}),
          minVersion: 'TLSv1.2',
        });
        s.ports.tls = await s.#listen(server, t, 'tls', 'secureConnection');
      }
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  get cachedReplies(): number {
    return this.#cache.size;
  }

  async #startUdp(): Promise<void> {
    const { address, port } = this.#opts.udp;
    await new Promise<void>((resolve, reject) => {
      this.#udp.once('error', reject);
      this.#udp.bind(port, address, () => {
        this.#udp.off('error', reject);
        resolve();
      });
    });
    this.ports.udp = this.#udp.address().port;
    this.#udp.on('error', (err) => this.#opts.log.error({ plane: 'relay', err: err.message }, 'ng UDP socket error'));
    this.#udp.on('message', (msg, rinfo) => {
      const source: NgSource = { address: rinfo.address, port: rinfo.port, transport: 'udp' };
      if (!this.#opts.allowed(rinfo.address)) {
        // Answered only when the reply is no larger than the request: a refusal must not amplify a spoofed flood.
        const refusal = this.#refuse(msg, source);
        if (refusal && refusal.length <= msg.length) this.#udp.send(refusal, rinfo.port, rinfo.address);
        return;
      }
      let f: NgFrame;
      try {
        f = parseDatagram(msg);
      } catch (err) {
        this.#malformed(source, err as Error);
        return;
      }
      this.#udp.send(this.#answer(f, source), rinfo.port, rinfo.address);
    });
  }

  async #listen(server: Server, at: NgListen, transport: 'tcp' | 'tls', event = 'connection'): Promise<number> {
    this.#servers.push(server);
    server.on(event, (socket: Socket) => this.#connection(socket, transport));
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      this.#opts.log.warn(
        { plane: 'relay', transport, remote: socket.remoteAddress, err: err.message },
        'ng TLS handshake failed',
      );
    });
    return listenOn(server, at.port, at.address);
  }

  #connection(socket: Socket, transport: 'tcp' | 'tls'): void {
    const source: NgSource = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, transport };
    if (!this.#opts.allowed(source.address)) {
      this.#refuse(null, source);
      socket.destroy();
      return;
    }
    this.counters.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const framer = new NgStreamFramer(this.#opts.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      let frames: NgFrame[];
      try {
        frames = framer.push(chunk);
      } catch (err) {
        // A stream that cannot be framed cannot be resynchronised: say why, then close it.
        this.#malformed(source, err as Error);
        socket.end(frame('0', error(`cannot frame the stream: ${(err as Error).message}`)));
        return;
      }
      for (const f of frames) socket.write(this.#answer(f, source));
    });
  }

  /** One message from an allowed source: the cached reply of a retransmission, or the command's. */
  #answer(f: NgFrame, source: NgSource): Buffer {
    const key = source.transport === 'udp' ? source.address : `${source.address}:${source.port}/${source.transport}`;
    const cached = this.#cache.get(key, f.cookie);
    if (cached) {
      this.counters.duplicates++;
      return cached;
    }
    this.counters.messages++;
    let reply: NgInput;
    try {
      reply = this.#opts.handle(requestDict(f.body), source);
    } catch (err) {
      if (err instanceof NgDecodeError) {
        this.#malformed(source, err);
        reply = error(`could not decode the bencode dictionary: ${err.message}`);
      } else {
        this.#opts.log.error(
          { plane: 'relay', source: source.address, err: (err as Error).stack },
          'ng command failed',
        );
        reply = error(`internal error: ${(err as Error).message}`);
      }
    }
    const out = frame(f.cookie, reply);
    this.#cache.set(key, f.cookie, out);
    return out;
  }

  #malformed(source: NgSource, err: Error): void {
    this.counters.malformed++;
    this.#opts.log.warn(
      { plane: 'relay', source: `${source.address}:${source.port}`, transport: source.transport, err: err.message },
      'ng message malformed',
    );
  }

  /** Counts and logs (at most once a second) a source not in ng.allow; the reply to give it, if it had a cookie. */
  #refuse(msg: Buffer | null, source: NgSource): Buffer | undefined {
    this.counters.notAllowed++;
    const now = Date.now();
    if (now - this.#lastRefusalLog >= 1000) {
      this.#lastRefusalLog = now;
      this.#opts.log.warn(
        { plane: 'relay', source: source.address, transport: source.transport },
        'ng control from a source not in ng.allow: refused',
      );
    }
    if (!msg) return undefined;
    try {
      return frame(parseDatagram(msg).cookie, error(NOT_ALLOWED));
    } catch (err) {
      if (err instanceof NgFramingError) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await Promise.all(
      this.#servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
    );
    await new Promise<void>((resolve) => {
      try {
        this.#udp.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
