// RFC 5626 §5.2 flow tokens: the edge names a client's TLS connection in its Path/Record-Route URI so a
// request from the inside finds that connection again. Signed so nobody inside or outside can aim a request at
// another client's connection; a restart invalidates every token, as the connections they named are gone too.
//
// A token carries in clear the epoch of the process that made it (random) and the name of the edge node: core reads
// the name to send a request for a client over its link to that edge (a full mesh: every core links to every edge).
// The key is the cluster's (the store's shared secret, docs/cluster.md), so every edge can tell a genuine token of
// a peer from a forged one; a single pair's key is made at start. A genuine token of another epoch or another edge
// cannot name a flow here: `stale`, and the edge answers 430 Flow Failed (RFC 5626 §5.3) so the registrar lets the
// binding go rather than keep sending to it. One whose MAC fails was altered: `forged`, 403.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const EPOCH_BYTES = 6;
const MAC_BYTES = 12;

export type FlowTokenCheck = { connectionId: string } | { fault: 'stale' | 'forged' };

export interface FlowTokenOptions {
  /** The edge node's name, carried in clear (at most 255 bytes). */
  node?: string;
  /** The cluster's shared key; default: one made for this process. */
  key?: Buffer;
}

interface Parts {
  epoch: Buffer;
  mac: Buffer;
  node: string;
  id: Buffer;
  signed: Buffer;
}

function split(token: string): Parts | undefined {
  if (token.length > 400 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const raw = Buffer.from(token, 'base64url');
  const at = EPOCH_BYTES + MAC_BYTES;
  if (raw.length <= at + 1) return undefined;
  const len = raw[at]!;
  if (raw.length <= at + 1 + len) return undefined;
  return {
    epoch: raw.subarray(0, EPOCH_BYTES),
    mac: raw.subarray(EPOCH_BYTES, at),
    node: raw.subarray(at + 1, at + 1 + len).toString('utf8'),
    id: raw.subarray(at + 1 + len),
    signed: raw.subarray(at),
  };
}

export class FlowTokens {
  readonly #key: Buffer;
  /** The key is the cluster's (given), so a peer's tokens can be told from forged ones. */
  readonly #shared: boolean;
  readonly #epoch = randomBytes(EPOCH_BYTES);
  readonly #node: Buffer;
  // A connection's token never changes, and every REGISTER and every answer to it carries one: an HMAC each
  // time was an eighth of the edge's CPU. Made once per live connection and known by value until forget().
  readonly #issued = new Map<string, string>();
  readonly #known = new Map<string, string>();

  constructor(opts: FlowTokenOptions = {}) {
    this.#key = opts.key ?? randomBytes(32);
    this.#shared = opts.key !== undefined;
    this.#node = Buffer.from(opts.node ?? '', 'utf8').subarray(0, 255);
  }

  /** The edge node a token names (read without the key: core routes by it), or undefined for no token at all. */
  static edgeOf(token: string): string | undefined {
    const p = split(token);
    return p?.node ? p.node : undefined;
  }

  issue(connectionId: string): string {
    let token = this.#issued.get(connectionId);
    if (token === undefined) {
      const signed = Buffer.concat([Buffer.from([this.#node.length]), this.#node, Buffer.from(connectionId, 'utf8')]);
      token = Buffer.concat([this.#epoch, this.#mac(signed), signed]).toString('base64url');
      this.#issued.set(connectionId, token);
      this.#known.set(token, connectionId);
    }
    return token;
  }

  /** The connection closed: its token is checked the long way from now on (and names a connection gone). */
  forget(connectionId: string): void {
    const token = this.#issued.get(connectionId);
    if (token === undefined) return;
    this.#issued.delete(connectionId);
    this.#known.delete(token);
  }

  /** The connection a token of this process names; otherwise whether it is genuine but not ours (stale) or bad. */
  check(token: string): FlowTokenCheck {
    const known = this.#known.get(token);
    if (known !== undefined) return { connectionId: known };
    const p = split(token);
    if (!p) return { fault: 'forged' };
    const ours = p.epoch.equals(this.#epoch);
    const genuine = timingSafeEqual(p.mac, this.#mac(p.signed));
    // Another process's token cannot be checked without the cluster's key: it names no flow here either way.
    if (!ours) return { fault: genuine || !this.#shared ? 'stale' : 'forged' };
    return genuine && p.node === this.#node.toString('utf8')
      ? { connectionId: p.id.toString('utf8') }
      : { fault: 'forged' };
  }

  /** The connection id, or undefined for a token this process did not issue. */
  verify(token: string): string | undefined {
    const c = this.check(token);
    return 'connectionId' in c ? c.connectionId : undefined;
  }

  #mac(signed: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(signed).digest().subarray(0, MAC_BYTES);
  }
}
