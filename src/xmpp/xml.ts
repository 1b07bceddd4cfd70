// The small XML model XMPP needs: one top-level element (a stanza, a SASL or TLS negotiation element) as a
// tree, its namespace as the parser resolved it, and the text escaping RFC 6120 §11 asks of both directions.

export const NS = {
  client: 'jabber:client',
  stream: 'http://etherx.jabber.org/streams',
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  session: 'urn:ietf:params:xml:ns:xmpp-session',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  /** XEP-0198 stream management: a resumed stream is signed in without a new bind. */
  sm: 'urn:xmpp:sm:3',
} as const;

const ESC: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
export const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => ESC[c]!);

export class XmlElement {
  constructor(
    readonly name: string,
    readonly attrs: Record<string, string> = {},
    readonly children: Array<XmlElement | string> = [],
    /** The namespace the element is in, declared on it or inherited (empty when built, not parsed). */
    readonly ns = attrs.xmlns ?? '',
  ) {}

  /** The local name: `stream:features` → `features`. */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  is(local: string, ns?: string): boolean {
    return this.local === local && (ns === undefined || this.ns === ns);
  }

  child(local: string, ns?: string): XmlElement | undefined {
    for (const c of this.children) if (typeof c !== 'string' && c.is(local, ns)) return c;
    return undefined;
  }

  get text(): string {
    return this.children.map((c) => (typeof c === 'string' ? c : c.text)).join('');
  }

  toString(): string {
    const attrs = Object.entries(this.attrs)
      .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
      .join('');
    if (this.children.length === 0) return `<${this.name}${attrs}/>`;
    const inner = this.children.map((c) => (typeof c === 'string' ? escapeXml(c) : c.toString())).join('');
    return `<${this.name}${attrs}>${inner}</${this.name}>`;
  }
}

/** Builds an element: `x('message', { to }, x('body', {}, 'hi'))`. */
export function x(
  name: string,
  attrs: Record<string, string | undefined> = {},
  ...children: Array<XmlElement | string | undefined>
): XmlElement {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = v;
  return new XmlElement(
    name,
    clean,
    children.filter((c): c is XmlElement | string => c !== undefined),
  );
}

/** The opening tag of a stream (its element never closes until the stream ends). */
export function streamHeader(attrs: { from?: string; to?: string; id?: string }): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}='${escapeXml(v!)}'`)
    .join('');
  return `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'${a} version='1.0'>`;
}

/** RFC 6120 §4.9.3 conditions this product sends. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'conflict'
  | 'connection-timeout'
  | 'host-unknown'
  | 'internal-server-error'
  | 'invalid-namespace'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'system-shutdown'
  | 'unsupported-version';

/** A stream error and the stream's close: the last thing written on a stream. */
export function streamError(condition: StreamErrorCondition, text?: string): string {
  const t = text ? `<text xmlns='${NS.streamErrors}'>${escapeXml(text)}</text>` : '';
  return `<stream:error><${condition} xmlns='${NS.streamErrors}'/>${t}</stream:error></stream:stream>`;
}
