// A client for rtpengine's ng control protocol: "<cookie> <bencoded dict>" over UDP, reply echoes the cookie.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { bdecode, bencode, type BValue } from './bencode.js';

type Dict = Record<string, BValue>;

export class NgClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, { resolve: (d: Dict) => void; reject: (e: Error) => void }>();
  #seq = 0;

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {
    this.#socket = createSocket('udp4');
    this.#socket.on('message', (msg) => this.#onMessage(msg));
    this.#socket.on('error', (err) => { for (const p of this.#pending.values()) p.reject(err); });
    this.#socket.unref();
  }

  /** Sends one command; retransmits (same cookie: rtpengine runs it once) until a reply or the deadline. */
  async command(dict: Dict, timeoutMs = 3000): Promise<Dict> {
    const cookie = `${randomBytes(4).toString('hex')}${(++this.#seq).toString(36)}`;
    const packet = Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]);
    return new Promise<Dict>((resolve, reject) => {
      const send = (): void => this.#socket.send(packet, this.port, this.host);
      const retry = setInterval(send, 500);
      const deadline = setTimeout(() => finish(new Error(`rtpengine did not answer '${String(dict.command)}' in ${timeoutMs} ms`)), timeoutMs);
      const finish = (err: Error | null, reply?: Dict): void => {
        clearInterval(retry);
        clearTimeout(deadline);
        this.#pending.delete(cookie);
        if (err) reject(err);
        else if (reply?.result === 'error') reject(new Error(`rtpengine ${String(dict.command)}: ${String(reply['error-reason'])}`));
        else resolve(reply!);
      };
      this.#pending.set(cookie, { resolve: (d) => finish(null, d), reject: (e) => finish(e) });
      send();
    });
  }

  close(): void {
    for (const p of this.#pending.values()) p.reject(new Error('ng client closed'));
    this.#socket.close();
  }

  #onMessage(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) return;
    const waiter = this.#pending.get(msg.subarray(0, space).toString());
    if (!waiter) return;  // a late reply to a retransmission
    try {
      const reply = bdecode(msg.subarray(space + 1));
      if (reply === null || typeof reply !== 'object' || Array.isArray(reply) || Buffer.isBuffer(reply)) throw new Error('reply is not a dictionary');
      waiter.resolve(reply);
    } catch (err) {
      waiter.reject(err as Error);
    }
  }
}
