import { HttpError } from './errors.js';

/**
 * Decoding the first path segment of an edge request: base64 of `domain` (edge configuration) or of
 * `domain/http|https/host/port` (a proxied service). Jabber sends it unpadded, browsers padded, and both
 * alphabets occur, so all four forms are accepted; anything else is refused before any look-up.
 */
export class RouteError extends HttpError {
  constructor(
    readonly status: 400 | 404 | 405,
    message: string,
  ) {
    super(message);
  }
}

export type EdgeRoute =
  | { kind: 'edge-config' | 'edge-sso'; domain: string; search: string }
  | {
      kind: 'service';
      domain: string;
      scheme: 'http' | 'https';
      host: string;
      port: number;
      path: string;
      search: string;
    };

const B64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isHostName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((o) => Number(o) <= 255);
  return s.split('.').every((l) => LABEL.test(l));
}

/** base64 or base64url, padded or not; the result must re-encode to the same text (no stray bits). */
export function decodeRoutingSegment(segment: string): string {
  if (!B64.test(segment) || segment.length > 1024) throw new RouteError(400, 'routing segment is not base64');
  const bare = segment.replace(/=+$/, '');
  if (bare.length % 4 === 1) throw new RouteError(400, 'routing segment has an impossible base64 length');
  if (segment.includes('=') && segment.length % 4 !== 0)
    throw new RouteError(400, 'routing segment has wrong base64 padding');
  const std = bare.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Buffer.from(std, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== std)
    throw new RouteError(400, 'routing segment is not canonical base64');
  // Printable ASCII only: a domain or a host route never carries anything else.
  if (!/^[\x21-\x7e]+$/.test(bytes.toString('latin1')))
    throw new RouteError(400, 'routing segment does not decode to printable text');
  return bytes.toString('latin1');
}

/**
 * Splits a request target into its route. `isDomain` answers whether a name is a configured MRA domain; pass
 * `() => true` for a syntax-only check (the edge, which holds no domain table).
 */
export function parseEdgeTarget(target: string, isDomain: (name: string) => boolean): EdgeRoute {
  if (!target.startsWith('/')) throw new RouteError(400, 'request target must be an absolute path');
  const q = target.indexOf('?');
  const pathPart = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? '' : target.slice(q);
  const slash = pathPart.indexOf('/', 1);
  const segment = slash < 0 ? pathPart.slice(1) : pathPart.slice(1, slash);
  const rest = slash < 0 ? '' : pathPart.slice(slash);
  const decoded = decodeRoutingSegment(segment);
  const parts = decoded.split('/');
  const domain = parts[0]!.toLowerCase();
  if (!isHostName(domain)) throw new RouteError(400, 'routing segment does not name a domain');
  if (parts.length === 1) {
    if (!isDomain(domain)) throw new RouteError(404, `domain ${domain} is not served here`);
    if (rest === '/get_edge_config' || rest === '/get_edge_config/') return { kind: 'edge-config', domain, search };
    if (rest === '/get_edge_sso' || rest === '/get_edge_sso/') return { kind: 'edge-sso', domain, search };
    throw new RouteError(404, 'unknown edge service');
  }
  if (parts.length !== 4) throw new RouteError(400, 'service route must be domain/http|https/host/port');
  const [, scheme, hostRaw, portText] = parts as [string, string, string, string];
  if (scheme !== 'http' && scheme !== 'https') throw new RouteError(400, 'service route scheme must be http or https');
  const host = hostRaw.toLowerCase();
  if (!isHostName(host)) throw new RouteError(400, 'service route host is not a host name');
  if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535)
    throw new RouteError(400, 'service route port is not a port number');
  if (!isDomain(domain)) throw new RouteError(404, `domain ${domain} is not served here`);
  return {
    kind: 'service',
    domain,
    scheme,
    host,
    port: Number(portText),
    path: normalizePath(rest || '/'),
    search: checkSearch(search),
  };
}

/**
 * parseEdgeTarget with a memory of the targets it accepted. Clients ask for the same few paths again and again
 * (their UDS record, their configuration files), and decoding and normalizing them was a measurable share of
 * each request's CPU. Only accepted targets are kept, each at most MAX_KEY long, and the whole memory is dropped
 * when full, so a client sending endless distinct targets costs only what an uncached parse costs. The domain
 * check runs on every call: the domain table may change under a cached route.
 */
export class RouteCache {
  static readonly MAX_KEY = 512;
  readonly #routes = new Map<string, EdgeRoute>();

  constructor(readonly capacity = 4096) {}

  parse(target: string, isDomain: (name: string) => boolean): EdgeRoute {
    const hit = this.#routes.get(target);
    if (hit) {
      if (!isDomain(hit.domain)) throw new RouteError(404, `domain ${hit.domain} is not served here`);
      return hit;
    }
    const route = Object.freeze(parseEdgeTarget(target, isDomain));
    if (target.length <= RouteCache.MAX_KEY) {
      if (this.#routes.size >= this.capacity) this.#routes.clear();
      this.#routes.set(target, route);
    }
    return route;
  }

  get size(): number {
    return this.#routes.size;
  }
}

function checkSearch(search: string): string {
  if (/[\x00-\x20\x7f\\]/.test(search))
    throw new RouteError(400, 'query carries control characters, spaces or backslashes');
  return search;
}

/**
 * The path the allow list sees and the upstream receives: decoded once, dot-segments resolved. Encoded
 * slashes, dots, percent signs (double encoding) and backslashes are refused rather than decoded, because
 * upstream servers disagree on what they mean and that disagreement is how allow lists are bypassed.
 */
export function normalizePath(raw: string): string {
  if (/[\x00-\x20\x7f]/.test(raw)) throw new RouteError(400, 'path carries control characters or spaces');
  if (raw.includes('\\')) throw new RouteError(400, 'path carries a backslash');
  if (/%(2f|2e|5c|25|00)/i.test(raw))
    throw new RouteError(400, 'path carries an encoded slash, dot, backslash or percent sign');
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new RouteError(400, 'path has a malformed percent escape');
  }
  if (/[\x00-\x1f\x7f]/.test(decoded)) throw new RouteError(400, 'path decodes to control characters');
  const out: string[] = [];
  const segs = decoded.split('/').slice(1);
  for (const [i, seg] of segs.entries()) {
    if (seg === '.') {
      if (i === segs.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) throw new RouteError(400, 'path climbs above the root');
      out.pop();
      if (i === segs.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  // Re-encode only what must be encoded on the wire; everything else stays as the client meant it.
  return `/${out.map((s) => encodeURIComponent(s).replace(/%(40|3A|2C|3B|3D|2B|24|21|27|28|29|2A)/g, (m) => decodeURIComponent(m))).join('/')}`;
}

/** The inverse, for clients, tests and the lab: builds the path Jabber would send. */
export function encodeServiceRoute(
  domain: string,
  scheme: 'http' | 'https',
  host: string,
  port: number,
  padded = false,
): string {
  const b = Buffer.from(`${domain}/${scheme}/${host}/${port}`).toString('base64');
  return padded ? b : b.replace(/=+$/, '');
}
