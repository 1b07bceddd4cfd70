// SIP routing through the pair: the edge's rules (clients ↔ traversal link) and the core's (traversal link ↔
// call control). The composition roots call attachEdgeSip / attachCoreSip; see docs/sip.md for the flow.
import type { CoreConfig, EdgeConfig } from '../../config/index.js';
import type { NodeContext } from '../../host/index.js';
import type { ChannelSource, TraversalClient } from '../../traversal/index.js';
import { DomainTable } from '../../domains/index.js';
import type { DiscoveryResult } from '../../discovery/index.js';
import { EdgeSipProxy } from './edge-proxy.js';
import { CoreSipProxy } from './core-proxy.js';
import { callControlRoutes, configuredRoutes, type CallControlCluster } from './call-control-routes.js';
import type { MediaEngine } from '../../media/index.js';
import { dnsNames, ipAddressNames } from '../../certs/index.js';
import { nodeScoped, sharedSecret } from '../../store/index.js';
import type { MediaStatus, SipStatus } from './status.js';

export type { EdgeSipProxy, CoreSipProxy };
export type { MediaStatus, SipStatus } from './status.js';

const WILDCARD = new Set(['0.0.0.0', '::', '']);
/** What each node counts against its own capacity: in a cluster's store, kept apart per node (docs/cluster.md). */
const OWN_NAMESPACES = ['sip-registrations'];

const specific = (address: string | undefined): string | undefined =>
  address === undefined || WILDCARD.has(address) ? undefined : address;

/**
 * Starts the client-facing SIP TLS listener on public.sip_tls_port and takes every core's SIP channel. With a media
 * engine, calls' media goes through the edge: clients are told media.public_address (else public.address, else
 * the address their connection reached), core the traversal address (else the engine's, else core falls back to
 * the address it dials).
 */
export async function attachEdgeSip(
  ctx: NodeContext<EdgeConfig>,
  traversal: ChannelSource,
  engine?: MediaEngine,
  mediaBind?: string,
): Promise<EdgeSipProxy> {
  const { cfg } = ctx;
  const publicAddress = specific(cfg.media.public_address) ?? specific(cfg.public.address);
  const proxy = new EdgeSipProxy({
    listen: { address: cfg.public.address, port: cfg.public.sip_tls_port },
    publicHost: WILDCARD.has(cfg.public.address) ? cfg.name : cfg.public.address,
    names: edgeNames(cfg, ctx.tls.cert),
    tls: { cert: ctx.tls.cert, key: ctx.tls.key },
    limits: { headerTimeoutMs: cfg.sip.header_timeout_s * 1000, idleTimeoutMs: cfg.sip.idle_timeout_s * 1000 },
    maxConnections: cfg.sip.max_connections,
    tlsThreads: cfg.sip.tls_threads,
    maxQueueWaitMs: Math.round(cfg.sip.max_queue_wait_s * 1000),
    store: nodeScoped(ctx.store, cfg.name, OWN_NAMESPACES),
    node: cfg.name,
    // In a cluster every edge verifies its peers' flow tokens (docs/cluster.md); alone, a key of its own.
    ...(ctx.store.shared ? { flowKey: await sharedSecret(ctx.store, 'flow-token') } : {}),
    capacity: cfg.capacity.registrations,
    callCapacity: cfg.capacity.calls,
    ...(engine
      ? {
          media: {
            engine,
            muxAddress: specific(cfg.traversal.address) ?? specific(mediaBind) ?? '0.0.0.0',
            ...(publicAddress ? { publicAddress } : {}),
          },
        }
      : {}),
    maintenance: () => ctx.maintenance(),
    log: ctx.log,
    ...(ctx.sipTap ? { tap: ctx.sipTap } : {}),
  });
  traversal.onChannel('sip', (ch) => proxy.addCoreChannel(ch));
  await proxy.start();
  ctx.onClose(() => proxy.close());
  ctx.addQuery('registrations', () => proxy.registrations());
  addSipStatus(ctx, () => proxy.status());
  addMediaStatus(ctx, () => proxy.mediaStatus(), engine);
  return proxy;
}

/**
 * The names a client's Route may give the edge by (docs/sip.md, "Names the edge answers to"): its public name and
 * address, a NAT's public address, and its certificate's exact DNS names and IP addresses (a wildcard name covers
 * hosts that are not this edge, so it does not count).
 */
export function edgeNames(cfg: EdgeConfig, certPem: string): string[] {
  const fromCert = [...dnsNames(certPem).filter((n) => !n.startsWith('*')), ...ipAddressNames(certPem)];
  return [cfg.http.public_name, specific(cfg.public.address), specific(cfg.media.public_address), ...fromCert].filter(
    (n): n is string => n !== undefined,
  );
}

/** What core's SIP routing needs of discovery: its current answer, and word when it changes. */
export interface CallControlDiscovery {
  result(): DiscoveryResult;
  on(event: 'change', listener: (r: DiscoveryResult) => void): unknown;
}

/**
 * Routes SIP from the traversal link to call control and back: to the Unified CM nodes discovery found, or
 * the configured unified_cm[].nodes for a cluster discovery has no answer for (or without discovery at all).
 */
export function attachCoreSip(
  ctx: NodeContext<CoreConfig>,
  traversal: Pick<TraversalClient, 'onChannel' | 'sip' | 'link' | 'links'>,
  domains?: DomainTable,
  discovery?: CallControlDiscovery,
  engine?: MediaEngine,
): CoreSipProxy {
  const { cfg } = ctx;
  const clusters: CallControlCluster[] = cfg.unified_cm.map((c) => ({
    publisher: c.publisher,
    deployment: c.deployment,
    mixedMode: c.mixed_mode,
    tlsVerify: c.tls_verify,
    nodes: c.nodes.map((n) => ({ address: n.address, sipPort: n.sip_port, sipTlsPort: n.sip_tls_port })),
  }));
  // Derived once per discovery answer, not per request: the result object is replaced whole on each refresh.
  let routes = discovery ? callControlRoutes(discovery.result(), clusters) : clusters.flatMap(configuredRoutes);
  const proxy = new CoreSipProxy({
    node: cfg.name,
    traversal,
    domains: domains ?? DomainTable.fromConfig(cfg.domains),
    routes: () => routes,
    pathHeaders: cfg.sip.path_headers,
    tls: ctx.tls,
    idleTimeoutMs: cfg.sip.idle_timeout_s * 1000,
    ...(cfg.source_address ? { sourceAddress: cfg.source_address } : {}),
    store: nodeScoped(ctx.store, cfg.name, OWN_NAMESPACES),
    capacity: cfg.capacity.registrations,
    callCapacity: cfg.capacity.calls,
    ...(engine
      ? {
          media: {
            engine,
            keepaliveMs: Math.round(cfg.media.keepalive_s * 1000),
            timeoutAction: cfg.media.timeout_action,
            ...(cfg.media.address ? { address: cfg.media.address } : {}),
          },
        }
      : {}),
    maintenance: () => ctx.maintenance(),
    callLeaseMs: cfg.cluster.call_lease_ms,
    log: ctx.log,
    ...(ctx.sipTap ? { tap: ctx.sipTap } : {}),
  });
  discovery?.on('change', (r) => {
    routes = callControlRoutes(r, clusters);
    proxy.routesChanged();
  });
  ctx.onClose(() => proxy.close());
  ctx.addQuery('registrations', () => proxy.registrations());
  addSipStatus(ctx, () => proxy.status());
  addMediaStatus(ctx, () => proxy.mediaStatus(), engine);
  return proxy;
}

/**
 * The `media` section: call legs against capacity.calls (so the 80 % capacity alarm covers calls), the relays'
 * counters, and the engine's port pairs in use and totals (packets through user space and the kernel path,
 * unknown mux sources, socket errors) with the kernel path's own figures (`kernelPath`).
 */
function addMediaStatus(ctx: NodeContext<unknown>, read: () => MediaStatus, engine: MediaEngine | undefined): void {
  ctx.addStatus('media', (): MediaStatus => {
    if (!engine || engine.closed) return read();
    return {
      ...read(),
      portPairsInUse: engine.dump().portPairsInUse,
      muxPorts: engine.info.muxPorts,
      ...engine.traffic(),
      listenerFailures: engine.listenerFailures,
      srtpBackend: engine.info.srtpBackend,
    };
  });
}

/**
 * Status reads are synchronous and the Store is async: the section shows the latest completed read, taken at
 * each read and every second, so a one-off read (`mra-edge status`, a first scrape) is at most a second old.
 */
function addSipStatus(ctx: NodeContext<unknown>, read: () => Promise<SipStatus>): void {
  // Empty until the first read completes.
  let last: SipStatus | Record<string, never> = {};
  const refresh = () =>
    void read().then(
      (s) => (last = s),
      () => {},
    );
  refresh();
  const timer = setInterval(refresh, 1000);
  timer.unref();
  ctx.onClose(async () => clearInterval(timer));
  ctx.addStatus('sip', () => {
    refresh();
    return last;
  });
}

// Hop helpers for other SIP elements (the lab's call control and client, tests).
export {
  answer,
  hopFault,
  parseOrAnswer,
  rawAnswer,
  statelessBranch,
  viaValue,
  aorOf,
  PROXY_PARSE_LIMITS,
} from './hop.js';
export { overloadAnswer } from './overload.js';
