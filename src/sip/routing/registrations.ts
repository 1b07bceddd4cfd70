// Registrations held through this node, counted against capacity.registrations (Expressway: 2,500 per node).
// Kept in the Store with the binding's expiry as TTL, so a client that vanishes without de-registering
// stops counting when its binding would have expired at the registrar.
import type { Store } from '../../store/index.js';

const NS = 'sip-registrations';

export type Admission = 'ok' | 'full' | 'maintenance';

/** What a registration is, as far as the node that holds it can tell. */
export interface RegistrationInfo {
  /** user@domain of the To header. */
  aor?: string;
  /** The client's address:port (the edge; core sees the traversal link). */
  remote?: string;
}

interface HeldRegistration extends RegistrationInfo {
  since: number;
  expires: number;
}

/**
 * How a node turns a new registration away. Full: 503 with Retry-After (RFC 3261 §21.5.4), the client tries
 * again soon. Maintenance: 503 without it, which tells the client to fail over to the next server in the
 * SRV set (RFC 3263 §4.3) rather than wait for a node that is being drained.
 */
export const REFUSED_ADMISSION: Record<
  Exclude<Admission, 'ok'>,
  { status: number; text: string; headers: Array<[string, string]> }
> = {
  full: { status: 503, text: 'Registration capacity reached', headers: [['Retry-After', '5']] },
  maintenance: { status: 503, text: 'Maintenance mode: new registrations refused', headers: [] },
};

/**
 * Keys are registrations' correlation ids (hop.ts correlationId): a 60-bit hash of one AOR over one Call-ID
 * (RFC 3261 §10.2.4: refreshes keep the Call-ID). Ten fresh characters rather than `aor|callId`, which as a
 * slice of the received header block kept that whole block alive for as long as the registration.
 */
export class RegistrationCounter {
  constructor(
    private readonly store: Store,
    readonly capacity: number,
  ) {}

  /**
   * Whether a REGISTER for this key may pass: a refresh of a registration held here always may; a new one
   * not in maintenance mode, and only below capacity. Answered at once (no promise) by an in-process store.
   */
  admit(key: string, maintenance: boolean): Admission | Promise<Admission> {
    const local = this.store.local;
    if (!local) return this.#admitShared(key, maintenance);
    return this.#admission(local.get(NS, key) !== undefined, maintenance, () => local.count(NS));
  }

  async #admitShared(key: string, maintenance: boolean): Promise<Admission> {
    const held = (await this.store.get(NS, key)) !== undefined;
    const count = held || maintenance ? 0 : await this.store.count(NS);
    return this.#admission(held, maintenance, () => count);
  }

  #admission(held: boolean, maintenance: boolean, count: () => number): Admission {
    if (held) return 'ok';
    if (maintenance) return 'maintenance';
    return count() < this.capacity ? 'ok' : 'full';
  }

  /**
   * `who` is kept beside the expiry so an operator can list the registrations (mra-edge registrations). Done at
   * once (no promise) by an in-process store.
   */
  bound(key: string, expiresS: number, who: RegistrationInfo = {}): void | Promise<void> {
    const local = this.store.local;
    if (!local) return this.#boundShared(key, expiresS, who);
    if (expiresS <= 0) local.delete(NS, key);
    else local.set(NS, key, held(who, local.get<HeldRegistration>(NS, key), expiresS), expiresS * 1000);
  }

  async #boundShared(key: string, expiresS: number, who: RegistrationInfo): Promise<void> {
    if (expiresS <= 0) await this.store.delete(NS, key);
    else
      await this.store.set<HeldRegistration>(
        NS,
        key,
        held(who, await this.store.get<HeldRegistration>(NS, key), expiresS),
        expiresS * 1000,
      );
  }

  /** Every registration held here: AOR, client address (edge), when it was first bound and when it expires. */
  async list(): Promise<Array<RegistrationInfo & { key: string; since: string; expires: string }>> {
    return (await this.store.entries<HeldRegistration>(NS)).map(([key, r]) => ({
      key,
      ...r,
      since: new Date(r.since).toISOString(),
      expires: new Date(r.expires).toISOString(),
    }));
  }

  async unbound(key: string): Promise<void> {
    await this.store.delete(NS, key);
  }

  count(): Promise<number> {
    return this.store.count(NS);
  }
}

/** A registration bound for expiresS from now, first bound when `before` was (or now). */
function held(who: RegistrationInfo, before: HeldRegistration | undefined, expiresS: number): HeldRegistration {
  return { ...who, since: before?.since ?? Date.now(), expires: Date.now() + expiresS * 1000 };
}

/** The expiry a REGISTER asks for (RFC 3261 §10.2.1.1): the Contact's expires param, else Expires; 0 for "*". */
export function requestedExpires(
  contactParams: ReadonlyArray<{ name: string; value: string | null }> | '*',
  expiresHeader: string | undefined,
  fallback = 3600,
): number {
  if (contactParams === '*') return 0;
  const p = contactParams.find((x) => x.name.toLowerCase() === 'expires');
  const text = p?.value ?? expiresHeader;
  const n = text === undefined || text === null ? fallback : Number(text);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}
