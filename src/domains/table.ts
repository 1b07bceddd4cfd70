// The MRA domain table: which domains the pair serves and for what. Core owns it (configuration, later
// discovery); the edge only ever holds the copy core sends it over the traversal link.

export interface DomainEntry {
  name: string;
  /** "SIP registrations and provisioning on Unified CM". */
  sip_registrations: boolean;
  /** "IM and Presence Service registrations and provisioning". */
  im_presence: boolean;
  deployment: string;
  /** "SIP registrations and provisioning on Expressway" (core config only; not sent to the edge). */
  on_node?: boolean;
  /** "XMPP federation". */
  xmpp_federation?: boolean;
}

export type DomainFlag = 'sip_registrations' | 'im_presence' | 'on_node' | 'xmpp_federation';

export const DOMAIN_FLAGS: readonly DomainFlag[] = ['sip_registrations', 'on_node', 'im_presence', 'xmpp_federation'];

/** The words Expressway's domain page uses for each service, shown on the status page. */
const SERVICE_NAMES: Record<DomainFlag, string> = {
  sip_registrations: 'SIP registrations and provisioning on Unified CM',
  on_node: 'SIP registrations and provisioning on Expressway',
  im_presence: 'IM and Presence Service registrations and provisioning',
  xmpp_federation: 'XMPP federation',
};

/** A fully qualified name may end in a dot; it is the same domain. */
const domainKey = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The `domains` status section: each domain with its services in the product's words (a list: no figures). */
export type DomainsStatus = Array<{ name: string; deployment: string; services: string[] }>;

export class DomainTable {
  readonly #byName = new Map<string, DomainEntry>();
  readonly #watchers: Array<() => void> = [];

  constructor(entries: Iterable<DomainEntry>) {
    this.#fill(entries);
  }

  #fill(entries: Iterable<DomainEntry>): void {
    // Domain names compare case-insensitively (DNS), so the key is lower case.
    for (const e of entries) this.#byName.set(domainKey(e.name), { ...e });
  }

  /**
   * Puts another table in force in place (the cluster's copy, an operator's change): every plane holding this object
   * sees it at once, and the watchers (core telling its edges) are called.
   */
  replace(entries: Iterable<DomainEntry>): void {
    this.#byName.clear();
    this.#fill(entries);
    for (const w of this.#watchers) w();
  }

  /** Called after each replace(). */
  onChange(watcher: () => void): void {
    this.#watchers.push(watcher);
  }

  lookup(name: string): DomainEntry | undefined {
    // Names arrive from the wire (SIP URIs, sign-in names): anything but a string is simply not ours.
    return typeof name === 'string' ? this.#byName.get(domainKey(name)) : undefined;
  }

  /** True only for a known domain with the flag on. */
  allows(name: string, flag: DomainFlag): boolean {
    return this.lookup(name)?.[flag] === true;
  }

  get size(): number {
    return this.#byName.size;
  }

  entries(): DomainEntry[] {
    return [...this.#byName.values()];
  }

  list(): DomainEntry[] {
    return this.entries();
  }

  withFlag(flag: DomainFlag): DomainEntry[] {
    if (!DOMAIN_FLAGS.includes(flag))
      throw new TypeError(`unknown domain service ${String(flag)}; one of ${DOMAIN_FLAGS.join(', ')}`);
    return this.entries().filter((e) => e[flag] === true);
  }

  status(): DomainsStatus {
    return this.entries().map((e) => ({
      name: e.name,
      deployment: e.deployment,
      services: DOMAIN_FLAGS.filter((f) => e[f] === true).map((f) => SERVICE_NAMES[f]),
    }));
  }

  toJSON(): DomainEntry[] {
    return this.entries();
  }

  /** From the configuration's domains[] (extra fields such as on_node are not the edge's business). */
  static fromConfig(
    domains: ReadonlyArray<{ name: string; sip_registrations: boolean; im_presence: boolean; deployment: string }>,
  ): DomainTable {
    return new DomainTable(
      domains.map((d) => ({
        name: d.name,
        sip_registrations: d.sip_registrations,
        im_presence: d.im_presence,
        deployment: d.deployment,
      })),
    );
  }

  /** From JSON received on the wire; throws a plain Error naming what is wrong. */
  static parse(json: string): DomainTable {
    const data: unknown = JSON.parse(json);
    if (!Array.isArray(data)) throw new Error('domain table must be a JSON array');
    return new DomainTable(
      data.map((d: unknown, i) => {
        const e = d as Partial<DomainEntry>;
        if (typeof e?.name !== 'string' || e.name === '') throw new Error(`domain ${i}: name missing`);
        return {
          name: e.name,
          sip_registrations: e.sip_registrations === true,
          im_presence: e.im_presence === true,
          deployment: typeof e.deployment === 'string' ? e.deployment : 'default',
        };
      }),
    );
  }
}

/** Core's full table (all four services), published as the "domains" status section. */
export function attachDomains(ctx: {
  cfg: { domains?: readonly DomainEntry[] };
  addStatus(section: string, read: () => unknown): void;
}): DomainTable {
  const table = new DomainTable((ctx.cfg.domains ?? []).map((d) => ({ ...d })));
  ctx.addStatus('domains', () => table.status());
  return table;
}
