// Real UDP peers for the media integration tests: build RTP/RTCP, send, collect what the relay forwards.
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { MediaEngine, type MediaEngineOptions } from '../../src/media/index.js';

export const LOOPBACK = '127.0.0.1';

export { rtpPacket as rtp } from '../../src/lab/rtp-packet.js';

/** A minimal RTCP receiver report (PT 201) from `ssrc`. */
export function rtcpRr(ssrc: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x80;
  b[1] = 201;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

export class Peer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: { data: Buffer; port: number }[] = [];
  #waiters: (() => void)[] = [];

  static async open(): Promise<Peer> {
    const p = new Peer();
    p.socket.on('message', (data, rinfo) => {
      p.received.push({ data, port: rinfo.port });
      for (const w of p.#waiters.splice(0)) w();
    });
    p.socket.bind(0, LOOPBACK);
    await once(p.socket, 'listening');
    return p;
  }

  get port(): number {
    return this.socket.address().port;
  }
  get endpoint(): { address: string; port: number } {
    return { address: LOOPBACK, port: this.port };
  }

  send(data: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, LOOPBACK, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Resolves when `count` packets have arrived in total, or rejects after `ms`. */
  async waitFor(count: number, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} packets, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Each test file gets its own slice of the media range so files can run side by side. */
export function startEngine(portMin: number, opts: MediaEngineOptions = {}): Promise<MediaEngine> {
  return MediaEngine.create({ workers: 2, bindAddress: LOOPBACK, portMin, portMax: portMin + 499, ...opts });
}

export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
