import { EventEmitter } from 'node:events';
import type { SectionStatus } from '../host/index.js';
import type { Logger } from '../log/index.js';
import {
  DiscoveryError,
  listCallManagers,
  listProcessNodes,
  listTokenSigningKeys,
  probeHttps,
  readMixedMode,
  type AxlTarget,
} from './axl-client.js';
import {
  automaticRules,
  insideNodes,
  neighborZones,
  sipRoutes,
  type AutomaticRule,
  type ClusterKind,
  type DiscoveredNode,
  type InsideNode,
  type NeighborZone,
  type SipRoute,
} from './derive.js';

export interface StaticNodeConfig {
  address: string;
  sip_port: number;
  sip_tls_port: number;
  https_port: number;
  tftp_port: number;
}

export interface ClusterConfig {
  kind: ClusterKind;
  publisher: string;
  https_port: number;
  username?: string;
  password?: string;
  tls_verify: boolean;
  deployment: string;
  nodes: readonly StaticNodeConfig[];
}

export interface ClusterState {
  kind: ClusterKind;
  publisher: string;
  ok: boolean;
  mixedMode?: boolean;
  nodes: number;
  lastAttempt?: string;
  lastSuccess?: string;
  error?: string;
}

/** The `discovery` status section: what was read, when, and whether it is stale (an alarm then). */
export interface DiscoveryStatus extends SectionStatus {
  refreshing: boolean;
  refreshedAt: string | undefined;
  stale: boolean;
  staleReason?: string;
  clusters: ClusterState[];
  nodes: Array<Pick<DiscoveredNode, 'name' | 'kind' | 'publisher' | 'source'>>;
  zones: string[];
  rules: string[];
}

/** Everything discovery knows now: plain data, replaced whole on each refresh. */
export interface DiscoveryResult {
  nodes: DiscoveredNode[];
  zones: NeighborZone[];
  routes: SipRoute[];
  rules: AutomaticRule[];
  insideNodes: InsideNode[];
  /** Token-signing keys (JWKs) per call control publisher. */
  tokenKeys: Array<{ publisher: string; keys: Array<Record<string, unknown>> }>;
  clusters: ClusterState[];
  refreshedAt?: string;
}

export interface DiscoveryOptions {
  clusters: readonly ClusterConfig[];
  /** CAs that sign the publishers' (tomcat) certificates. */
  ca?: string;
  /** The local address to connect from (core's source_address); default: the one the route picks. */
  localAddress?: string;
  timeoutMs?: number;
  /** A cluster not read successfully for this long makes discovery stale. */
  staleAfterMs?: number;
  alarm: (id: string, severity: 'warning' | 'error', message: string) => void;
  clearAlarm: (id: string) => void;
  log: Logger;
}

interface Facts {
  nodes: DiscoveredNode[];
  mixedMode: boolean;
  keys: Array<Record<string, unknown>>;
}

const alarmId = (c: ClusterConfig) => `discovery.${c.kind}.${c.publisher}`;

/**
 * Discovery on core: asks each cluster's publisher for its nodes, security mode and token keys, and derives
 * zones, routes and automatic allow-list rules. A publisher that fails keeps its last good answer and raises
 * an alarm; it never throws out of refresh(). Emits 'change' with the new result after every refresh.
 */
export class Discovery extends EventEmitter<{ change: [DiscoveryResult] }> {
  readonly #opts: DiscoveryOptions;
  readonly #facts = new Map<ClusterConfig, Facts>();
  readonly #states = new Map<ClusterConfig, ClusterState>();
  #result: DiscoveryResult;
  #running: Promise<DiscoveryResult> | undefined;
  #again = false;
  readonly #stop = new AbortController();

  constructor(opts: DiscoveryOptions) {
    super();
    this.#opts = opts;
    for (const c of opts.clusters) this.#states.set(c, { kind: c.kind, publisher: c.publisher, ok: false, nodes: 0 });
    this.#result = this.#derive();
  }

  /** Stops any request in flight (node shutdown); later refreshes do nothing. */
  close(): void {
    this.#stop.abort();
    this.removeAllListeners();
  }

  result(): DiscoveryResult {
    return this.#result;
  }

  get refreshing(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves once no refresh is running: new sign-ins await this instead of failing mid-refresh. */
  async whenFresh(): Promise<DiscoveryResult> {
    while (this.#running) await this.#running;
    return this.#result;
  }

  ready(): Promise<DiscoveryResult> {
    return this.whenFresh();
  }

  /** Re-reads every publisher. A refresh asked for while one runs starts again after it, once. */
  refresh(): Promise<DiscoveryResult> {
    if (this.#running) {
      this.#again = true;
      return this.#running.then(() => this.whenFresh());
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await Promise.all(this.#opts.clusters.map((c) => this.#readCluster(c)));
        } while (this.#again);
        this.#result = this.#derive();
        return this.#result;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running.then((r) => {
      this.emit('change', r);
      return r;
    });
  }

  /** Stale: some cluster is served from an older answer (or none) because its publisher failed or was never read. */
  staleness(now = Date.now()): string | undefined {
    const max = this.#opts.staleAfterMs ?? 24 * 3_600_000;
    for (const s of this.#states.values()) {
      if (s.lastAttempt === undefined) continue;
      if (!s.ok)
        return `${s.kind} publisher ${s.publisher} last failed at ${s.lastAttempt} (${s.error ?? 'unknown error'})`;
      if (s.lastSuccess && now - Date.parse(s.lastSuccess) > max)
        return `${s.kind} publisher ${s.publisher} not read since ${s.lastSuccess}`;
    }
    return undefined;
  }

  status(): DiscoveryStatus {
    const r = this.#result;
    const stale = this.staleness();
    return {
      refreshing: this.refreshing,
      refreshedAt: r.refreshedAt,
      stale: stale !== undefined,
      ...(stale ? { staleReason: stale } : {}),
      clusters: r.clusters,
      nodes: r.nodes.map((n) => ({ name: n.name, kind: n.kind, publisher: n.publisher, source: n.source })),
      zones: r.zones.map((z) => z.name),
      rules: r.rules.map(
        (x) => `${x.type} ${x.scheme}://${x.host}:${x.port}${x.path} (${x.match}, ${x.methods.join('/')})`,
      ),
    };
  }

  async #readCluster(c: ClusterConfig): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const t: AxlTarget = {
      host: c.publisher,
      port: c.https_port,
      username: c.username,
      password: c.password,
      tlsVerify: c.tls_verify,
      ca: this.#opts.ca,
      timeoutMs: this.#opts.timeoutMs ?? 10_000,
      signal: this.#stop.signal,
      ...(this.#opts.localAddress ? { localAddress: this.#opts.localAddress } : {}),
    };
    const state = this.#states.get(c)!;
    state.lastAttempt = new Date().toISOString();
    try {
      const facts = await this.#ask(c, t);
      this.#facts.set(c, facts);
      Object.assign(
        state,
        { ok: true, nodes: facts.nodes.length, lastSuccess: new Date().toISOString(), error: undefined },
        c.kind === 'unified_cm' ? { mixedMode: facts.mixedMode } : {},
      );
      this.#opts.clearAlarm(alarmId(c));
      this.#opts.log.info(
        { cluster: c.kind, publisher: c.publisher, nodes: facts.nodes.map((n) => n.name), mixedMode: facts.mixedMode },
        'discovery read cluster',
      );
    } catch (err) {
      if (this.#stop.signal.aborted) return;
      const why = err instanceof DiscoveryError ? err.message : `unexpected answer: ${(err as Error).message}`;
      Object.assign(state, { ok: false, error: why });
      const kept = this.#facts.has(c)
        ? 'keeping the nodes from the last good answer'
        : 'using only the configured static nodes';
      this.#opts.alarm(
        alarmId(c),
        'error',
        `discovery of ${c.kind} publisher ${c.publisher}:${c.https_port} failed: ${why}; ${kept}`,
      );
      this.#opts.log.error({ cluster: c.kind, publisher: c.publisher, err: why }, 'discovery failed');
    }
  }

  async #ask(c: ClusterConfig, t: AxlTarget): Promise<Facts> {
    if (c.kind === 'unity_connection') {
      await probeHttps(t);
      return { nodes: [this.#node(c, c.publisher, 'discovered')], mixedMode: false, keys: [] };
    }
    const processNodes = await listProcessNodes(t);
    if (processNodes.length === 0)
      throw new DiscoveryError('garbage', 'listProcessNode: the publisher listed no nodes');
    let mixedMode = false;
    let keys: Array<Record<string, unknown>> = [];
    const sip = new Map<string, { sip?: number; sipTls?: number }>();
    if (c.kind === 'unified_cm') {
      const [managers, mixed, signing] = await Promise.all([
        listCallManagers(t),
        readMixedMode(t),
        listTokenSigningKeys(t),
      ]);
      for (const m of managers) sip.set(m.node.toLowerCase(), { sip: m.sipPort, sipTls: m.sipTlsPort });
      mixedMode = mixed;
      keys = signing;
    }
    const nodes = processNodes.map((p) => this.#node(c, p.name, 'discovered', sip.get(p.name.toLowerCase())));
    return { nodes, mixedMode, keys };
  }

  #node(
    c: ClusterConfig,
    name: string,
    source: DiscoveredNode['source'],
    sip?: { sip?: number; sipTls?: number },
  ): DiscoveredNode {
    // A static entry for the same address says which ports differ from the product defaults.
    const st = c.nodes.find((n) => n.address.toLowerCase() === name.toLowerCase());
    return {
      name,
      kind: c.kind,
      publisher: c.publisher,
      deployment: c.deployment,
      source,
      ports: {
        https: st?.https_port ?? c.https_port,
        tftp: st?.tftp_port ?? 6970,
        sip: sip?.sip ?? st?.sip_port ?? 5060,
        sipTls: sip?.sipTls ?? st?.sip_tls_port ?? 5061,
        ...(c.kind === 'unity_connection' ? { voicemail: st?.https_port ?? c.https_port } : {}),
      },
    };
  }

  #derive(): DiscoveryResult {
    const nodes: DiscoveredNode[] = [];
    const mixed = new Map<string, boolean>();
    const verify = new Map<string, boolean>();
    const tokenKeys: DiscoveryResult['tokenKeys'] = [];
    for (const c of this.#opts.clusters) {
      const f = this.#facts.get(c);
      const seen = new Set<string>();
      for (const n of f?.nodes ?? []) {
        seen.add(n.name.toLowerCase());
        nodes.push(n);
      }
      for (const s of c.nodes) if (!seen.has(s.address.toLowerCase())) nodes.push(this.#node(c, s.address, 'static'));
      // Never read and no nodes configured: the publisher is surely one of its cluster's nodes, so sign-ins
      // keep working through it (as with the configuration alone) until its publisher answers.
      if (!f && c.nodes.length === 0) nodes.push(this.#node(c, c.publisher, 'static'));
      mixed.set(c.publisher, f?.mixedMode ?? false);
      verify.set(c.publisher, c.tls_verify);
      if (c.kind === 'unified_cm' && f) tokenKeys.push({ publisher: c.publisher, keys: f.keys });
    }
    const zones = neighborZones(nodes, mixed, verify);
    return {
      nodes,
      zones,
      routes: sipRoutes(zones),
      rules: automaticRules(nodes),
      insideNodes: insideNodes(nodes),
      tokenKeys,
      clusters: [...this.#states.values()].map((s) => ({ ...s })),
      refreshedAt: this.#facts.size ? new Date().toISOString() : undefined,
    };
  }
}
