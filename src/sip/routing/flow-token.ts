// RFC 5626 §5.2 flow tokens: the edge names a client's TLS connection in its Path/Record-Route URI so a
// request from the inside finds that connection again. Signed with a key made at start, so nobody inside
// or outside can aim a request at another client's connection; a restart invalidates every token, as the
// connections they named are gone too.
//
// Each token also carries the epoch of the process that made it (random, in clear). A token from another
// epoch cannot be checked (its key died with that process) but cannot name a live flow either, so it is
// `stale`: the edge answers 430 Flow Failed (RFC 5626 §5.3) and the registrar drops the binding rather
// than keep sending to it. A token of this epoch whose MAC fails was altered: `forged`, 403.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const EPOCH_BYTES = 6;
const MAC_BYTES = 12;

export type FlowTokenCheck = { connectionId: string } | { fault: 'stale' | 'forged' };

export class FlowTokens {
  readonly #key = randomBytes(32);
  readonly #epoch = randomBytes(EPOCH_BYTES);
  // A connection's token never changes, and every REGISTER and every answer to it carries one: an HMAC each
  // time was an eighth of the edge's CPU. Made once per live connection and known by value until forget().
  readonly #issued = new Map<string, string>();
  readonly #known = new Map<string, string>();

  issue(connectionId: string): string {
    let token = this.#issued.get(connectionId);
    if (token === undefined) {
      const id = Buffer.from(connectionId, 'utf8');
      token = Buffer.concat([this.#epoch, this.#mac(id), id]).toString('base64url');
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

  /** The connection a token of this process names; otherwise whether it is from another epoch or bad. */
  check(token: string): FlowTokenCheck {
    const known = this.#known.get(token);
    if (known !== undefined) return { connectionId: known };
    if (token.length > 128 || !/^[A-Za-z0-9_-]+$/.test(token)) return { fault: 'forged' };
    const raw = Buffer.from(token, 'base64url');
    if (raw.length <= EPOCH_BYTES + MAC_BYTES) return { fault: 'forged' };
    if (!raw.subarray(0, EPOCH_BYTES).equals(this.#epoch)) return { fault: 'stale' };
    const id = raw.subarray(EPOCH_BYTES + MAC_BYTES);
    return timingSafeEqual(raw.subarray(EPOCH_BYTES, EPOCH_BYTES + MAC_BYTES), this.#mac(id)) ? { connectionId: id.toString('utf8') } : { fault: 'forged' };
  }

  /** The connection id, or undefined for a token this process did not issue. */
  verify(token: string): string | undefined {
    const c = this.check(token);
    return 'connectionId' in c ? c.connectionId : undefined;
  }

  #mac(id: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(id).digest().subarray(0, MAC_BYTES);
  }
}
