import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../log/index.js';

/**
 * A HEP v3 feed (the Homer/sipcapture encapsulation, https://github.com/sipcapture/HEP) of the SIP a node
 * exchanges outside the traversal link: the edge's with clients, core's with call control. One UDP datagram per
 * message, sent and forgotten: a collector that is down costs the node nothing but the datagrams.
 */
export interface HepTarget {
  address: string;
  port: number;
  /** The capture agent ID Homer shows for this node. */
  agentId: number;
  /** The collector's authentication key, when it asks for one. */
  password?: string;
}

export interface HepMessage {
  /** 6 TCP (TLS too: HEP has no code for it), 17 UDP. */
  protocol: 6 | 17;
  src: { address: string; port: number };
  dst: { address: string; port: number };
  timeMs: number;
  /** 1 SIP (the only payload this feed sends today). */
  payloadType: number;
  agentId: number;
  password?: string;
  payload: Buffer;
}

const chunk = (type: number, body: Buffer): Buffer => {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(0, 0); // vendor 0: the generic chunk types
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
};
const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer) is the IPv4 address. */
const plain = (a: string) => (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

function addressBytes(a: string): Buffer {
  if (isIP(a) === 4) return Buffer.from(a.split('.').map(Number));
  // IPv6: expand "::" and pack eight 16-bit groups.
  const [head = '', tail = ''] = a.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
}

export function encodeHep(m: HepMessage): Buffer {
  const src = plain(m.src.address);
  const dst = plain(m.dst.address);
  const v4 = isIP(src) === 4 && isIP(dst) === 4;
  const chunks = [
    chunk(0x0001, u8(v4 ? 2 : 10)),
    chunk(0x0002, u8(m.protocol)),
    chunk(v4 ? 0x0003 : 0x0005, addressBytes(src)),
    chunk(v4 ? 0x0004 : 0x0006, addressBytes(dst)),
    chunk(0x0007, u16(m.src.port)),
    chunk(0x0008, u16(m.dst.port)),
    chunk(0x0009, u32(Math.floor(m.timeMs / 1000))),
    chunk(0x000a, u32((m.timeMs % 1000) * 1000)),
    chunk(0x000b, u8(m.payloadType)),
    chunk(0x000c, u32(m.agentId)),
    ...(m.password ? [chunk(0x000e, Buffer.from(m.password, 'utf8'))] : []),
    chunk(0x000f, m.payload),
  ];
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(6);
  head.write('HEP3', 0, 'ascii');
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
}

/** "198.51.100.7:5061" or "::1:5061" (the last colon separates the port). */
function hostPort(s: string): { address: string; port: number } {
  const at = s.lastIndexOf(':');
  return { address: s.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(s.slice(at + 1)) };
}

// HEP's length fields are 16 bits: a message larger than this (a huge SDP) is not fed, rather than cut.
const MAX_PAYLOAD = 65_000;

export class HepFeed {
  readonly #socket: Socket;
  #warned = false;
  sent = 0;

  constructor(
    private readonly target: HepTarget,
    private readonly log: Logger,
  ) {
    this.#socket = createSocket(isIP(target.address) === 6 ? 'udp6' : 'udp4');
    this.#socket.on('error', (err) => this.#warn(err));
    this.#socket.unref();
  }

  /** The SIP planes' tap: each message in or out of a connection, as the connection's two ends see it. */
  readonly tap = (
    direction: 'in' | 'out',
    data: Buffer | string,
    conn: { remote: string; localAddress: string; localPort: number; transport: 'tcp' | 'tls' },
  ): void => {
    const payload = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (payload.length > MAX_PAYLOAD) return;
    const remote = hostPort(conn.remote);
    const local = { address: conn.localAddress, port: conn.localPort };
    const packet = encodeHep({
      protocol: 6,
      src: direction === 'in' ? remote : local,
      dst: direction === 'in' ? local : remote,
      timeMs: Date.now(),
      payloadType: 1,
      agentId: this.target.agentId,
      ...(this.target.password ? { password: this.target.password } : {}),
      payload,
    });
    this.#socket.send(packet, this.target.port, this.target.address, (err) => {
      if (err) this.#warn(err);
      else this.sent++;
    });
  };

  #warn(err: Error): void {
    if (this.#warned) return;
    this.#warned = true;
    this.log.warn(
      { collector: `${this.target.address}:${this.target.port}`, err: err.message },
      'HEP feed: cannot send to the collector (said once)',
    );
  }

  close(): void {
    this.#socket.close();
  }
}
