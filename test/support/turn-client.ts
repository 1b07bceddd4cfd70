// A TURN client for tests (RFC 8656 / RFC 8489, written from the RFCs with node:crypto, independent of the server's
// C++): it speaks every request the server takes, over UDP or TCP, with long-term credentials (MD5 or SHA-256 keys,
// MESSAGE-INTEGRITY or -SHA256), and can send what a real client never would, to see what the server does with it.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

export const METHOD = {
  binding: 0x001,
  allocate: 0x003,
  refresh: 0x004,
  send: 0x006,
  data: 0x007,
  createPermission: 0x008,
  channelBind: 0x009,
} as const;
export const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  unknownAttributes: 0x000a,
  channelNumber: 0x000c,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  data: 0x0013,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedAddressFamily: 0x0017,
  evenPort: 0x0018,
  requestedTransport: 0x0019,
  dontFragment: 0x001a,
  messageIntegritySha256: 0x001c,
  passwordAlgorithm: 0x001d,
  xorMappedAddress: 0x0020,
  reservationToken: 0x0022,
  passwordAlgorithms: 0x8002,
  software: 0x8022,
  fingerprint: 0x8028,
} as const;
const COOKIE = 0x2112a442;

export type StunClass = 'request' | 'indication' | 'success' | 'error';
export interface Attr {
  type: number;
  value: Buffer;
}
export interface StunMessage {
  method: number;
  cls: StunClass;
  tid: Buffer;
  attrs: Attr[];
  raw: Buffer;
}
export interface Endpoint {
  address: string;
  port: number;
}

const CLASSES: StunClass[] = ['request', 'indication', 'success', 'error'];
const pad4 = (n: number) => (n + 3) & ~3;

function typeOf(method: number, cls: StunClass): number {
  const c = CLASSES.indexOf(cls);
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7);
}

export function attr(type: number, value: Buffer | string | number): Attr {
  if (typeof value === 'number') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    return { type, value: b };
  }
  return { type, value: typeof value === 'string' ? Buffer.from(value) : value };
}

export function xorAddress(type: number, e: Endpoint): Attr {
  const v = Buffer.alloc(8);
  v[1] = 1;
  v.writeUInt16BE(e.port ^ (COOKIE >>> 16), 2);
  const ip = e.address.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0;
  v.writeUInt32BE((ip ^ COOKIE) >>> 0, 4);
  return { type, value: v };
}

export function readXorAddress(a: Attr | undefined): Endpoint | undefined {
  if (a?.value.length !== 8 || a.value[1] !== 1) return undefined;
  const ip = (a.value.readUInt32BE(4) ^ COOKIE) >>> 0;
  return {
    address: [24, 16, 8, 0].map((s) => (ip >>> s) & 255).join('.'),
    port: a.value.readUInt16BE(2) ^ (COOKIE >>> 16),
  };
}

export interface Integrity {
  key: Buffer;
  sha256?: boolean;
}

/** A STUN message with attributes in order, then MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT when asked. */
export function encode(
  method: number,
  cls: StunClass,
  tid: Buffer,
  attrs: Attr[],
  opts: { integrity?: Integrity; fingerprint?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const header = Buffer.alloc(20);
  header.writeUInt16BE(typeOf(method, cls), 0);
  header.writeUInt32BE(COOKIE, 4);
  tid.copy(header, 8);
  const push = (a: Attr) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(a.type, 0);
    h.writeUInt16BE(a.value.length, 2);
    parts.push(h, a.value, Buffer.alloc(pad4(a.value.length) - a.value.length));
    length += 4 + pad4(a.value.length);
  };
  for (const a of attrs) push(a);
  const sofar = () => {
    header.writeUInt16BE(length, 2);
    return Buffer.concat([header, ...parts]);
  };
  if (opts.integrity) {
    const sha = opts.integrity.sha256 === true;
    length += 4 + (sha ? 32 : 20);
    const mac = createHmac(sha ? 'sha256' : 'sha1', opts.integrity.key)
      .update(sofar())
      .digest();
    length -= 4 + (sha ? 32 : 20);
    push({ type: sha ? ATTR.messageIntegritySha256 : ATTR.messageIntegrity, value: mac });
  }
  if (opts.fingerprint) {
    length += 8;
    const crc = (crc32(sofar()) ^ 0x5354554e) >>> 0;
    length -= 8;
    const v = Buffer.alloc(4);
    v.writeUInt32BE(crc);
    push({ type: ATTR.fingerprint, value: v });
  }
  return sofar();
}

let crcTable: number[] | undefined;
export function crc32(b: Buffer): number {
  crcTable ??= Array.from({ length: 256 }, (_, i) => {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const byte of b) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function decode(raw: Buffer): StunMessage | undefined {
  if (raw.length < 20 || (raw[0]! & 0xc0) !== 0 || raw.readUInt32BE(4) !== COOKIE) return undefined;
  const length = raw.readUInt16BE(2);
  if (20 + length > raw.length) return undefined;
  const t = raw.readUInt16BE(0);
  const method = (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80);
  const cls = CLASSES[((t >> 4) & 1) | ((t >> 7) & 2)]!;
  const attrs: Attr[] = [];
  for (let p = 20; p + 4 <= 20 + length; ) {
    const type = raw.readUInt16BE(p);
    const len = raw.readUInt16BE(p + 2);
    attrs.push({ type, value: raw.subarray(p + 4, p + 4 + len) });
    p += 4 + pad4(len);
  }
  return { method, cls, tid: raw.subarray(8, 20), attrs, raw: raw.subarray(0, 20 + length) };
}

export const find = (m: StunMessage, type: number) => m.attrs.find((a) => a.type === type);

export function errorOf(m: StunMessage): { code: number; reason: string } | undefined {
  const a = find(m, ATTR.errorCode);
  return a ? { code: a.value[2]! * 100 + a.value[3]!, reason: a.value.subarray(4).toString() } : undefined;
}

/** Whether a response's MESSAGE-INTEGRITY(-SHA256) verifies under `key` (checked from the bytes, as RFC 8489 §14.5). */
export function integrityOk(m: StunMessage, key: Buffer): boolean {
  const i = m.attrs.findIndex((a) => a.type === ATTR.messageIntegrity || a.type === ATTR.messageIntegritySha256);
  if (i < 0) return false;
  const a = m.attrs[i]!;
  const offset = a.value.byteOffset - m.raw.byteOffset - 4;
  const copy = Buffer.from(m.raw.subarray(0, offset));
  copy.writeUInt16BE(offset + 4 + a.value.length - 20, 2);
  return createHmac(a.type === ATTR.messageIntegrity ? 'sha1' : 'sha256', key)
    .update(copy)
    .digest()
    .equals(a.value);
}

export function longTermKey(username: string, realm: string, password: string, sha256 = false): Buffer {
  return createHash(sha256 ? 'sha256' : 'md5')
    .update(`${username}:${realm}:${password}`)
    .digest();
}

export interface Reply {
  msg: StunMessage;
  code: number;
  reason: string;
  /** Every answer's code on the way, challenges included (401 then 0; 438 then 0). */
  codes: number[];
}

export interface ClientOptions {
  transport?: 'udp' | 'tcp';
  credentials?: { username: string; password: string };
  /** RFC 8489 §9.2: ask for the SHA-256 password algorithm and answer with MESSAGE-INTEGRITY-SHA256. */
  sha256?: boolean;
  fingerprint?: boolean;
  localAddress?: string;
}

/**
 * One client 5-tuple toward a TURN server. `request()` does the long-term credential dance: the first request
 * goes without credentials, a 401 or 438 teaches realm and nonce, and the request is sent again with them.
 */
export class TurnClient {
  readonly received: Array<{ kind: 'data' | 'channel'; peer?: Endpoint; channel?: number; data: Buffer }> = [];
  readonly unanswered: StunMessage[] = [];
  realm?: string;
  nonce?: string;
  #waiting = new Map<string, (m: StunMessage) => void>();
  #udp?: dgram.Socket;
  #tcp?: net.Socket;
  #tcpBuffer = Buffer.alloc(0);
  #onReceive: Array<() => void> = [];

  private constructor(
    readonly server: Endpoint,
    public opts: ClientOptions,
  ) {}

  static async open(server: Endpoint, opts: ClientOptions = {}): Promise<TurnClient> {
    const c = new TurnClient(server, opts);
    if (opts.transport === 'tcp') {
      c.#tcp = net.connect({ host: server.address, port: server.port, localAddress: opts.localAddress });
      await once(c.#tcp, 'connect');
      c.#tcp.on('data', (d: Buffer) => c.#onTcp(d));
      c.#tcp.on('error', () => {});
    } else {
      c.#udp = dgram.createSocket('udp4');
      c.#udp.on('message', (d) => c.#onMessage(d));
      c.#udp.bind(0, opts.localAddress ?? '127.0.0.1');
      await once(c.#udp, 'listening');
    }
    return c;
  }

  get local(): Endpoint {
    if (this.#udp) return { address: this.#udp.address().address, port: this.#udp.address().port };
    return { address: this.#tcp!.localAddress!, port: this.#tcp!.localPort! };
  }

  get key(): Buffer {
    const cr = this.opts.credentials!;
    return longTermKey(cr.username, this.realm ?? '', cr.password, this.opts.sha256);
  }

  #onTcp(d: Buffer): void {
    this.#tcpBuffer = Buffer.concat([this.#tcpBuffer, d]);
    for (;;) {
      if (this.#tcpBuffer.length < 4) return;
      const first = this.#tcpBuffer[0]!;
      const total = first < 0x40 ? 20 + this.#tcpBuffer.readUInt16BE(2) : 4 + pad4(this.#tcpBuffer.readUInt16BE(2));
      if (this.#tcpBuffer.length < total) return;
      this.#onMessage(this.#tcpBuffer.subarray(0, total));
      this.#tcpBuffer = this.#tcpBuffer.subarray(total);
    }
  }

  #onMessage(d: Buffer): void {
    if (d[0]! >= 0x40 && d[0]! < 0x80) {
      this.received.push({
        kind: 'channel',
        channel: d.readUInt16BE(0),
        data: Buffer.from(d.subarray(4, 4 + d.readUInt16BE(2))),
      });
    } else {
      const m = decode(Buffer.from(d));
      if (!m) return;
      const w = this.#waiting.get(m.tid.toString('hex'));
      if (m.cls === 'indication' && m.method === METHOD.data) {
        this.received.push({
          kind: 'data',
          peer: readXorAddress(find(m, ATTR.xorPeerAddress)),
          data: Buffer.from(find(m, ATTR.data)?.value ?? []),
        });
      } else if (w) {
        this.#waiting.delete(m.tid.toString('hex'));
        w(m);
      } else {
        this.unanswered.push(m);
      }
    }
    for (const f of this.#onReceive.splice(0)) f();
  }

  /** Sends bytes as they are: a datagram, or onto the stream. */
  sendRaw(b: Buffer): void {
    if (this.#udp) this.#udp.send(b, this.server.port, this.server.address);
    else this.#tcp!.write(b);
  }

  /** One transaction: sends `b` and waits for the response with its transaction id (undefined after `ms`). */
  async transact(b: Buffer, ms = 2000): Promise<StunMessage | undefined> {
    const tid = b.subarray(8, 20).toString('hex');
    const answer = new Promise<StunMessage | undefined>((resolve) => {
      const t = setTimeout(() => {
        this.#waiting.delete(tid);
        resolve(undefined);
      }, ms);
      this.#waiting.set(tid, (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
    this.sendRaw(b);
    return answer;
  }

  #credentialAttrs(): Attr[] {
    const cr = this.opts.credentials;
    if (!cr || this.nonce === undefined) return [];
    const out = [attr(ATTR.username, cr.username), attr(ATTR.realm, this.realm ?? ''), attr(ATTR.nonce, this.nonce)];
    if (this.opts.sha256) {
      const algorithms = Buffer.from([0, 1, 0, 0, 0, 2, 0, 0]);
      out.push(attr(ATTR.passwordAlgorithms, algorithms), attr(ATTR.passwordAlgorithm, Buffer.from([0, 2, 0, 0])));
    }
    return out;
  }

  build(method: number, attrs: Attr[], tid: Buffer = randomBytes(12)): Buffer {
    const signed = this.opts.credentials !== undefined && this.nonce !== undefined;
    return encode(method, 'request', tid, [...attrs, ...this.#credentialAttrs()], {
      ...(signed ? { integrity: { key: this.key, sha256: this.opts.sha256 } } : {}),
      fingerprint: this.opts.fingerprint,
    });
  }

  /** A request with credentials: sent again (with a new transaction) after a 401 or 438 that brings a nonce. */
  async request(method: number, attrs: Attr[] = [], tid?: Buffer): Promise<Reply> {
    const codes: number[] = [];
    for (let attempt = 0; ; attempt++) {
      const msg = await this.transact(this.build(method, attrs, attempt === 0 ? tid : undefined));
      if (!msg)
        throw new Error(`no answer to method 0x${method.toString(16)} from ${this.server.address}:${this.server.port}`);
      const err = errorOf(msg);
      codes.push(err?.code ?? 0);
      const nonce = find(msg, ATTR.nonce);
      const realm = find(msg, ATTR.realm);
      const retry =
        err &&
        (err.code === 401 || err.code === 438) &&
        nonce &&
        this.opts.credentials &&
        attempt < 2 &&
        // A 401 after credentials were sent under this very nonce is the answer, not a challenge.
        (err.code === 438 || this.nonce === undefined);
      if (nonce) this.nonce = nonce.value.toString();
      if (realm) this.realm = realm.value.toString();
      if (!retry) return { msg, code: err?.code ?? 0, reason: err?.reason ?? '', codes };
    }
  }

  async allocate(extra: Attr[] = [], tid?: Buffer): Promise<Reply & { relayed?: Endpoint; lifetime?: number }> {
    const r = await this.request(
      METHOD.allocate,
      [attr(ATTR.requestedTransport, Buffer.from([17, 0, 0, 0])), ...extra],
      tid,
    );
    return {
      ...r,
      relayed: readXorAddress(find(r.msg, ATTR.xorRelayedAddress)),
      lifetime: find(r.msg, ATTR.lifetime)?.value.readUInt32BE(0),
    };
  }

  refresh(lifetime?: number): Promise<Reply> {
    return this.request(METHOD.refresh, lifetime === undefined ? [] : [attr(ATTR.lifetime, lifetime)]);
  }

  createPermission(...peers: Endpoint[]): Promise<Reply> {
    return this.request(
      METHOD.createPermission,
      peers.map((p) => xorAddress(ATTR.xorPeerAddress, p)),
    );
  }

  channelBind(channel: number, peer: Endpoint): Promise<Reply> {
    const n = Buffer.alloc(4);
    n.writeUInt16BE(channel, 0);
    return this.request(METHOD.channelBind, [attr(ATTR.channelNumber, n), xorAddress(ATTR.xorPeerAddress, peer)]);
  }

  sendIndication(peer: Endpoint, data: Buffer): void {
    this.sendRaw(
      encode(METHOD.send, 'indication', randomBytes(12), [
        xorAddress(ATTR.xorPeerAddress, peer),
        attr(ATTR.data, data),
      ]),
    );
  }

  channelData(channel: number, data: Buffer): void {
    const b = Buffer.alloc(4 + (this.#tcp ? pad4(data.length) : data.length));
    b.writeUInt16BE(channel, 0);
    b.writeUInt16BE(data.length, 2);
    data.copy(b, 4);
    this.sendRaw(b);
  }

  /** Resolves when `count` relayed packets have arrived in all, or rejects after `ms`. */
  async waitReceived(count: number, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} relayed packets, got ${this.received.length}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#onReceive.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.#udp?.close();
    this.#tcp?.destroy();
  }
}
