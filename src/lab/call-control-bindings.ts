// The lab registrar's location service: AOR → contacts, each with the Path it arrived with and the
// connection (flow) it came over, expiring on their own.
import type { SipConnection } from '../sip/transport/index.js';

export interface Binding {
  aor: string;
  contact: string;
  path: string[];
  conn: SipConnection;
  callId: string;
  expiresAt: number;
  remainingS(): number;
}

export class Bindings {
  readonly #byAor = new Map<string, Map<string, Binding>>();
  readonly #byContact = new Map<string, Binding>();

  set(
    aor: string,
    contact: string,
    b: { path: string[]; conn: SipConnection; callId: string; expiresS: number },
  ): void {
    if (b.expiresS <= 0) return this.remove(aor, contact);
    const expiresAt = Date.now() + b.expiresS * 1000;
    const binding: Binding = {
      aor,
      contact,
      path: b.path,
      conn: b.conn,
      callId: b.callId,
      expiresAt,
      remainingS: () => Math.max(0, Math.round((expiresAt - Date.now()) / 1000)),
    };
    let forAor = this.#byAor.get(aor);
    if (!forAor) this.#byAor.set(aor, (forAor = new Map()));
    forAor.set(contact, binding);
    this.#byContact.set(contact, binding);
  }

  remove(aor: string, contact: string): void {
    this.#byAor.get(aor)?.delete(contact);
    if (this.#byContact.get(contact)?.aor === aor) this.#byContact.delete(contact);
  }

  removeAll(aor: string): void {
    for (const contact of this.#byAor.get(aor)?.keys() ?? []) this.#byContact.delete(contact);
    this.#byAor.delete(aor);
  }

  /** Live bindings of an AOR, most recent first; expired ones are dropped on the way. */
  lookup(aor: string): Binding[] {
    const forAor = this.#byAor.get(aor);
    if (!forAor) return [];
    const now = Date.now();
    const out: Binding[] = [];
    for (const b of forAor.values()) {
      if (b.expiresAt <= now) this.remove(aor, b.contact);
      else out.push(b);
    }
    return out.sort((a, b) => b.expiresAt - a.expiresAt);
  }

  byContact(contact: string): Binding | undefined {
    const b = this.#byContact.get(contact);
    return b && b.expiresAt > Date.now() ? b : undefined;
  }

  /** Number of live contacts over all AORs. */
  get size(): number {
    let n = 0;
    for (const aor of this.#byAor.keys()) n += this.lookup(aor).length;
    return n;
  }

  clear(): void {
    this.#byAor.clear();
    this.#byContact.clear();
  }
}
