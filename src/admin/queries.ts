/**
 * The admin API's lists, searched the way an operator asks: by user (any part of the name before the @) and by
 * domain (the part after it, exactly), over whichever address fields an entry has (a registration's AOR, a call
 * leg's client and peer, an XMPP stream's JID).
 */
type Entry = Record<string, unknown>;
const isObject = (v: unknown): v is Entry => typeof v === 'object' && v !== null && !Array.isArray(v);

const ADDRESS_FIELDS = ['aor', 'client', 'peer', 'jid'] as const;

function addresses(e: Entry): string[] {
  return ADDRESS_FIELDS.map((f) => e[f])
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.toLowerCase());
}

export function matchesAddress(e: Entry, user: string | null, domain: string | null): boolean {
  if (!user && !domain) return true;
  const u = user?.toLowerCase();
  const d = domain?.toLowerCase();
  return addresses(e).some((a) => {
    const at = a.indexOf('@');
    const local = at < 0 ? a : a.slice(0, at);
    const host = at < 0 ? '' : a.slice(at + 1).replace(/\/.*$/, '');
    return (!u || local.includes(u)) && (!d || host === d);
  });
}

export function filterByAddress(items: unknown[], params: URLSearchParams): unknown[] {
  return items.filter((i) => !isObject(i) || matchesAddress(i, params.get('user'), params.get('domain')));
}

export interface Call {
  callId: string;
  legs: Entry[];
}

/** The calls through this node, from the status document's call legs grouped by Call-ID; `id` picks one (or those it starts). */
export function callsOf(doc: Entry, params: URLSearchParams): Call[] {
  const legs: Entry[] = [];
  for (const section of Object.values(doc))
    if (isObject(section) && Array.isArray(section.callList)) legs.push(...section.callList.filter(isObject));
  const byId = new Map<string, Entry[]>();
  for (const l of legs) {
    const id = String(l.callId ?? '');
    byId.set(id, [...(byId.get(id) ?? []), l]);
  }
  const id = params.get('id');
  return [...byId]
    .filter(
      ([callId, ls]) =>
        (!id || callId === id || callId.startsWith(id)) &&
        ls.some((l) => matchesAddress(l, params.get('user'), params.get('domain'))),
    )
    .map(([callId, ls]) => ({ callId, legs: ls }));
}
