// Discovery (core): the inside clusters' nodes, zones, SIP routes and automatic allow-list rules, read from
// each publisher over an AXL-style SOAP subset (docs/discovery.md).
import { readFileSync } from 'node:fs';
import type { CoreConfig } from '../config/index.js';
import type { NodeContext } from '../host/index.js';
import { Discovery, type ClusterConfig } from './discovery.js';

export {
  Discovery,
  type ClusterConfig,
  type ClusterState,
  type DiscoveryResult,
  type DiscoveryStatus,
  type DiscoveryOptions,
  type StaticNodeConfig,
} from './discovery.js';
export { DiscoveryError, type AxlTarget } from './axl-client.js';
export {
  SEARCH_RULE_PRIORITY,
  type AutomaticRule,
  type ClusterKind,
  type DiscoveredNode,
  type InsideNode,
  type InsideNodeType,
  type NeighborZone,
  type SipRoute,
} from './derive.js';
export {
  AXL_PATH,
  AXL_NS,
  SECURITY_MODE_SQL,
  soapEnvelope,
  soapFault,
  parseXml,
  descendants,
  textOf,
  xmlEscape,
  requestOperation,
  type AxlOperation,
  type XmlNode,
} from './axl-xml.js';

type InsideClusters = Pick<CoreConfig, 'unified_cm' | 'im_presence' | 'unity_connection'>;

/** The configured clusters as discovery reads them, passwords loaded from their files. */
export function clustersFromConfig(cfg: InsideClusters): ClusterConfig[] {
  const kinds = ['unified_cm', 'im_presence', 'unity_connection'] as const;
  return kinds.flatMap((kind) =>
    cfg[kind].map((c) => ({
      kind,
      publisher: c.publisher,
      https_port: c.https_port,
      username: c.username,
      password: c.password ?? (c.password_file ? readFileSync(c.password_file, 'utf8').trim() : undefined),
      tls_verify: c.tls_verify,
      deployment: c.deployment,
      nodes: c.nodes,
    })),
  );
}

/** Re-read the inside this often by itself, so a stale answer means a publisher failing, not an operator away. */
export const AUTO_REFRESH_MS = 3_600_000;

/**
 * Wires discovery into a core node: status section "discovery", admin action "discovery-refresh", a first
 * refresh started at once (not awaited: a slow publisher must not hold the node's start-up), and one every
 * hour after. Planes consume `result()` and the 'change' event; sign-ins may await `whenFresh()`.
 */
export function attachDiscovery(
  ctx: NodeContext<CoreConfig>,
  opts: { timeoutMs?: number; staleAfterMs?: number; refreshEveryMs?: number } = {},
): Discovery {
  const discovery = new Discovery({
    clusters: clustersFromConfig(ctx.cfg),
    ca: ctx.tls.ca,
    ...(ctx.cfg.source_address ? { localAddress: ctx.cfg.source_address } : {}),
    timeoutMs: opts.timeoutMs,
    staleAfterMs: opts.staleAfterMs,
    alarm: (id, sev, msg) => ctx.alarm(id, sev, msg),
    clearAlarm: (id) => ctx.clearAlarm(id),
    log: ctx.log.child({ plane: 'discovery' }),
  });
  ctx.addStatus('discovery', () => discovery.status());
  ctx.addAction('discovery-refresh', async () => {
    const r = await discovery.refresh();
    return { nodes: r.nodes.length, zones: r.zones.map((z) => z.name), clusters: r.clusters };
  });
  const timer = setInterval(() => void discovery.refresh(), opts.refreshEveryMs ?? AUTO_REFRESH_MS);
  timer.unref();
  ctx.onClose(() => {
    clearInterval(timer);
    discovery.close();
  });
  void discovery.refresh();
  return discovery;
}
