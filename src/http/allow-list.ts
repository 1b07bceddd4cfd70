import { type RouteError, isHostName, normalizePath } from './route.js';

/**
 * The HTTP server allow list (Expressway-C): which inside URLs a remote client may reach through the edge.
 * Automatic rules follow the inside nodes by type and cannot be edited; editable rules are the operator's.
 */
export type MatchType = 'exact' | 'prefix';
export type InsideNodeType = 'unified_cm' | 'tftp' | 'im_presence' | 'unity_connection';

export interface AllowRule {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  match: MatchType;
  /** Explicit methods, or 'default' to follow the list's default method set. */
  methods: readonly string[] | 'default';
  deployment: string;
  description: string;
  automatic: boolean;
  /** For automatic rules: which kind of inside node made it. */
  type?: InsideNodeType;
}

/** An inside node as discovery (or the static configuration) knows it. */
export interface InsideNode {
  type: InsideNodeType;
  address: string;
  /** Ports that differ from the product defaults (a lab, or a site that moved them). */
  ports?: Partial<Record<ServicePort, number>>;
  deployment?: string;
}

type ServicePort = 'https' | 'tftp' | 'tftps' | 'voicemail';
const DEFAULT_SERVICE_PORTS: Record<ServicePort, number> = { https: 8443, tftp: 6970, tftps: 6972, voicemail: 443 };

export interface AllowTarget {
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Already normalized (see normalizePath). */
  path: string;
}

export type AllowVerdict = { allowed: true; rule: AllowRule } | { allowed: false; reason: string };

const METHOD = /^[A-Z]{1,16}$/;

// What each inside server type serves to a Jabber client, as Expressway adds it on discovery.
type AutomaticRow = Pick<AllowRule, 'scheme' | 'path' | 'match' | 'methods'> & { port: ServicePort };
const AUTOMATIC: Record<InsideNodeType, AutomaticRow[]> = {
  unified_cm: [
    { scheme: 'https', port: 'https', path: '/cucm-uds/', match: 'prefix', methods: ['GET', 'PUT'] },
    { scheme: 'https', port: 'https', path: '/ssosp/oauth/', match: 'prefix', methods: ['GET', 'POST'] },
    { scheme: 'https', port: 'tftps', path: '/', match: 'prefix', methods: ['GET'] },
  ],
  tftp: [
    { scheme: 'http', port: 'tftp', path: '/', match: 'prefix', methods: ['GET'] },
    { scheme: 'https', port: 'tftps', path: '/', match: 'prefix', methods: ['GET'] },
  ],
  im_presence: [
    { scheme: 'https', port: 'https', path: '/EPASSoap/service/v80', match: 'exact', methods: ['POST'] },
    { scheme: 'https', port: 'https', path: '/cup-uds/', match: 'prefix', methods: ['GET'] },
  ],
  unity_connection: [
    {
      scheme: 'https',
      port: 'voicemail',
      path: '/vmrest/',
      match: 'prefix',
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
    },
  ],
};

/** One rule per (node, service): the plain node list comes from discovery or, until it runs, the configuration. */
export function automaticRules(nodes: readonly InsideNode[]): AllowRule[] {
  return nodes.flatMap((n) =>
    AUTOMATIC[n.type].map((r) => ({
      ...r,
      port: n.ports?.[r.port] ?? DEFAULT_SERVICE_PORTS[r.port],
      host: n.address.toLowerCase(),
      deployment: n.deployment ?? 'default',
      description: `automatic: ${n.type}`,
      automatic: true,
      type: n.type,
    })),
  );
}

/** Parses `http(s)://host[:port][/path]` into a rule's target; throws with a reason for anything else. */
export function parseRuleUrl(url: string): Pick<AllowRule, 'scheme' | 'host' | 'port' | 'path'> {
  const m = /^(https?):\/\/([^/:@?#\s]+)(?::(\d{1,5}))?(\/[^?#\s]*)?$/i.exec(url.trim());
  if (!m) throw new Error(`"${url}" is not an http(s)://host[:port][/path] URL`);
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const host = m[2]!.toLowerCase();
  if (!isHostName(host)) throw new Error(`"${host}" is not a host name`);
  const port = m[3] ? Number(m[3]) : scheme === 'https' ? 443 : 80;
  if (port < 1 || port > 65535) throw new Error(`port ${port} is out of range`);
  let path: string;
  try {
    path = normalizePath(m[4] ?? '/');
  } catch (err) {
    throw new Error(`path of "${url}": ${(err as RouteError).message}`);
  }
  return { scheme, host, port, path };
}

export function ruleUrl(r: Pick<AllowRule, 'scheme' | 'host' | 'port' | 'path'>): string {
  return `${r.scheme}://${r.host}:${r.port}${r.path}`;
}

export function checkMethods(methods: readonly string[]): string[] {
  const out = methods.map((m) => m.trim().toUpperCase()).filter(Boolean);
  for (const m of out) if (!METHOD.test(m)) throw new Error(`"${m}" is not an HTTP method`);
  if (out.length === 0) throw new Error('no methods given');
  return [...new Set(out)];
}

export class AllowList {
  #automatic: AllowRule[] = [];
  #editable: AllowRule[] = [];
  #defaults: string[];

  constructor(defaultMethods: readonly string[] = ['GET']) {
    this.#defaults = checkMethods(defaultMethods);
  }

  /** Replaces the automatic rules (called on discovery and on refresh). */
  setNodes(nodes: readonly InsideNode[]): void {
    this.#automatic = automaticRules(nodes);
  }

  setDefaultMethods(methods: readonly string[]): void {
    this.#defaults = checkMethods(methods);
  }

  get defaultMethods(): readonly string[] {
    return this.#defaults;
  }

  rules(): { automatic: readonly AllowRule[]; editable: readonly AllowRule[] } {
    return { automatic: this.#automatic, editable: this.#editable };
  }

  addRule(input: {
    url: string;
    methods?: readonly string[] | 'default';
    match?: MatchType;
    deployment?: string;
    description?: string;
  }): AllowRule {
    const rule: AllowRule = {
      ...parseRuleUrl(input.url),
      match: input.match ?? 'prefix',
      methods: input.methods === undefined || input.methods === 'default' ? 'default' : checkMethods(input.methods),
      deployment: input.deployment || 'default',
      description: input.description ?? '',
      automatic: false,
    };
    this.#editable.push(rule);
    return rule;
  }

  /** Removes an editable rule by URL; automatic rules cannot be removed (false). */
  removeRule(url: string): boolean {
    const target = ruleUrl(parseRuleUrl(url));
    const before = this.#editable.length;
    this.#editable = this.#editable.filter((r) => ruleUrl(r) !== target);
    return this.#editable.length !== before;
  }

  replaceEditable(rules: AllowRule[]): void {
    this.#editable = rules.map((r) => ({ ...r, automatic: false }));
  }

  check(t: AllowTarget): AllowVerdict {
    const host = t.host.toLowerCase();
    let pathMatched: AllowRule | undefined;
    for (const rule of [...this.#automatic, ...this.#editable]) {
      if (rule.scheme !== t.scheme || rule.host !== host || rule.port !== t.port) continue;
      if (!pathMatches(rule, t.path)) continue;
      pathMatched ??= rule;
      const methods = rule.methods === 'default' ? this.#defaults : rule.methods;
      if (methods.includes(t.method)) return { allowed: true, rule };
    }
    if (pathMatched)
      return {
        allowed: false,
        reason: `method ${t.method} is not allowed for ${t.scheme}://${host}:${t.port}${t.path}`,
      };
    return { allowed: false, reason: `${t.scheme}://${host}:${t.port}${t.path} is not on the HTTP allow list` };
  }
}

function pathMatches(rule: AllowRule, path: string): boolean {
  if (rule.match === 'exact') return path === rule.path;
  if (rule.path.endsWith('/')) return path.startsWith(rule.path) || path === rule.path.slice(0, -1);
  // A prefix without a trailing slash still ends at a segment or a dot, so /vmrest does not admit /vmrest-admin.
  return path === rule.path || path.startsWith(`${rule.path}/`) || path.startsWith(`${rule.path}.`);
}
