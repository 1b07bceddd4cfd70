// A client for rtpengine's ng control protocol: "<cookie> <bencoded dict>" over UDP, reply echoes the cookie. The
// codec is the relay role's (src/relay/ng); replies come back with byte strings as text (latin1, as SDP is).
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { ngDecode, ngFrame, ngParseDatagram, type NgInput, type NgValue } from '../../src/relay/index.js';

export type BValue = string | number | BValue[] | { [key: string]: BValue };
type Dict = Record<string, BValue>;

/** A reply with its byte strings as text. */
export function textOf(v: NgValue): BValue {
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(textOf);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, textOf(x)]));
}

export class NgClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, { resolve: (d: Dict) => void; reject: (e: Error) => void }>();
  #seq = 0;

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
    bindAddress?: string,
  ) {
    this.#socket = createSocket('udp4');
    if (bindAddress) this.#socket.bind(0, bindAddress);
    this.#socket.on('message', (msg) => this.#onMessage(msg));
    this.#socket.on('error', (err) => {
      for (const p of this.#pending.values()) p.reject(err);
    });
    this.#socket.unref();
  }

  /** Sends one command and resolves with the reply, whatever its result. Retransmits (same cookie) until a reply. */
  async send(
    dict: Record<string, NgInput>,
    timeoutMs = 3000,
    cookie = `${randomBytes(4).toString('hex')}${(++this.#seq).toString(36)}`,
  ): Promise<Dict> {
    const packet = ngFrame(cookie, dict);
    return new Promise<Dict>((resolve, reject) => {
      const send = (): void => this.#socket.send(packet, this.port, this.host);
      const retry = setInterval(send, 500);
      const deadline = setTimeout(
        () => finish(new Error(`no answer to '${String(dict.command)}' in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = (err: Error | null, reply?: Dict): void => {
        clearInterval(retry);
        clearTimeout(deadline);
        this.#pending.delete(cookie);
        if (err) reject(err);
        else resolve(reply!);
      };
      this.#pending.set(cookie, { resolve: (d) => finish(null, d), reject: (e) => finish(e) });
      send();
    });
  }

  /** Like send(), but an `error` result rejects with its reason. */
  async command(dict: Record<string, NgInput>, timeoutMs = 3000): Promise<Dict> {
    const reply = await this.send(dict, timeoutMs);
    if (reply.result === 'error') throw new Error(`${String(dict.command)}: ${String(reply['error-reason'])}`);
    return reply;
  }

  close(): void {
    for (const p of this.#pending.values()) p.reject(new Error('ng client closed'));
    this.#socket.close();
  }

  #onMessage(msg: Buffer): void {
    let cookie: string;
    try {
      cookie = ngParseDatagram(msg).cookie;
    } catch {
      return;
    }
    const waiter = this.#pending.get(cookie);
    if (!waiter) return; // a late reply to a retransmission
    try {
      const reply = textOf(ngDecode(ngParseDatagram(msg).body));
      if (reply === null || typeof reply !== 'object' || Array.isArray(reply))
        throw new Error('reply is not a dictionary');
      waiter.resolve(reply);
    } catch (err) {
      waiter.reject(err as Error);
    }
  }
}
