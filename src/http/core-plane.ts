import type { CoreConfig } from '../config/index.js';
import type { DomainTable } from '../domains/index.js';
import type { NodeContext } from '../host/index.js';
import { CoreTunnel, type ChannelSource } from '../traversal/index.js';
import { AllowList, type InsideNode } from './allow-list.js';
import { attachAllowListAdmin } from './allow-list-admin.js';
import { Authorizer } from './authorize.js';
import { CallControl, type CallControlCluster } from './call-control.js';
import { coreProxyHandler } from './core-proxy.js';
import type { ServiceRecord } from './edge-config.js';
import { TokenKeys } from './token-keys.js';
import { Upstreams } from './upstream.js';
import type { HttpCoreStatus } from './status.js';

type Clusters = CoreConfig['unified_cm'];

/** The inside nodes by type from the static configuration; discovery feeds the same shape when it lands. */
export function configuredInsideNodes(
  cfg: Pick<CoreConfig, 'unified_cm' | 'im_presence' | 'unity_connection'>,
): InsideNode[] {
  const nodes = (
    clusters: Clusters,
    type: InsideNode['type'],
    pick: (n: Clusters[number]['nodes'][number]) => InsideNode['ports'],
  ) =>
    clusters.flatMap((c) =>
      (c.nodes.length
        ? c.nodes
        : [
            {
              address: c.publisher,
              https_port: c.https_port,
              tftp_port: 6970,
              sip_port: 5060,
              sip_tls_port: 5061,
              xmpp_port: 5222,
            },
          ]
      ).map((n) => ({ type, address: n.address, ports: pick(n), deployment: c.deployment })),
    );
  return [
    ...nodes(cfg.unified_cm, 'unified_cm', (n) => ({ https: n.https_port })),
    ...nodes(cfg.unified_cm, 'tftp', (n) => ({ tftp: n.tftp_port })),
    ...nodes(cfg.im_presence, 'im_presence', (n) => ({ https: n.https_port })),
    ...nodes(cfg.unity_connection, 'unity_connection', (n) => ({ voicemail: n.https_port })),
  ];
}

/** `_cisco-uds` and `_cuplogin` as the inside SRV records would give them, from the same node list. */
export function serviceRecords(nodes: readonly InsideNode[]): ServiceRecord[] {
  const of = (type: InsideNode['type'], name: string) => ({
    name,
    servers: nodes.filter((n) => n.type === type).map((n) => ({ address: n.address, port: n.ports?.https ?? 8443 })),
  });
  return [of('unified_cm', '_cisco-uds'), of('im_presence', '_cuplogin')].filter((s) => s.servers.length > 0);
}

export interface HttpCore {
  allowList: AllowList;
  authorizer: Authorizer;
  /** Replaces the inside node list (discovery's change event): automatic rules and service records follow. */
  setInsideNodes(nodes: readonly InsideNode[]): void;
  /** Settles when the allow list's editable rules are the cluster's copy (at once in memory; docs/cluster.md). */
  allowListShared: Promise<void>;
}

/**
 * Core's half of the HTTPS proxy: serves the tunnel core opened to the edge, and owns everything that needs
 * trust: the domain check (against core's domain table), the allow list, authorization, and the connections to
 * the inside servers.
 */
export function attachHttpCore(
  ctx: NodeContext<CoreConfig>,
  traversal: ChannelSource,
  domains: DomainTable,
  opts: { ready?: () => Promise<unknown> } = {},
): HttpCore {
  const { cfg } = ctx;
  const log = ctx.log.child({ plane: 'http' });
  const http = cfg.http;
  const upstreams = new Upstreams({
    ca: ctx.tls.ca,
    ...(ctx.cfg.source_address ? { localAddress: ctx.cfg.source_address } : {}),
  });
  ctx.onClose(() => upstreams.close());
  const clusters: CallControlCluster[] = cfg.unified_cm.map((c) => ({
    publisher: c.publisher,
    httpsPort: c.https_port,
    nodes: c.nodes.map((n) => ({ address: n.address, httpsPort: n.https_port })),
  }));
  const callControl = new CallControl(clusters, upstreams);
  const a = http.authorization;
  const tokens = new TokenKeys(() => callControl.tokenKeys(), {
    issuers: a.token_issuers,
    clockToleranceS: a.token_clock_skew_s,
    ...(a.token_audience ? { audience: a.token_audience } : {}),
  });
  const refreshMs = a.credentials_refresh_min * 60_000;
  const authorizer = new Authorizer(
    ctx.store,
    {
      credentialsRefreshMs: refreshMs,
      cleanupMs: a.cleanup_min * 60_000,
      maxAuthorizationsPerPeriod: a.max_authorizations_per_period,
      rateControlPeriodMs: a.rate_control_period_s * 1000,
    },
    (u, p) => callControl.checkPassword(u, p),
    tokens,
  );
  ctx.onClose(() => authorizer.close());
  const refreshKeys = () =>
    tokens.refresh().then(
      () => log.info({ keys: tokens.size }, 'token signing keys fetched from call control'),
      (err: Error) =>
        log.warn(
          { err: err.message },
          'token signing keys could not be fetched; bearer tokens are refused until they are',
        ),
    );
  if (clusters.length) {
    void refreshKeys();
    const t = setInterval(() => void refreshKeys(), refreshMs);
    t.unref();
    ctx.onClose(() => clearInterval(t));
  }

  const allowList = new AllowList(http.allow_list.default_methods);
  for (const r of http.allow_list.rules)
    allowList.addRule({
      url: r.url,
      methods: r.methods ?? 'default',
      match: r.match,
      deployment: r.deployment,
      description: r.description,
    });
  const csvFile = http.allow_list.csv_file;
  const { loadCsv, shared } = attachAllowListAdmin(ctx, allowList, { ...(csvFile ? { csvFile } : {}), log });
  if (csvFile) loadCsv();
  let services: ServiceRecord[] = [];
  const setInsideNodes = (nodes: readonly InsideNode[]) => {
    allowList.setNodes(nodes);
    services = serviceRecords(nodes);
  };
  setInsideNodes(configuredInsideNodes(cfg));
  const tunnel = new CoreTunnel(
    coreProxyHandler({
      coreNode: cfg.name,
      isDomain: (d) => domains.lookup(d) !== undefined,
      allowList,
      authorizer,
      callControl,
      upstreams,
      services: () => services,
      ssoEnabled: http.sso_enabled,
      maintenance: () => ctx.maintenance(),
      ...(opts.ready ? { ready: opts.ready } : {}),
      log,
    }),
    log,
  );
  ctx.onClose(() => tunnel.close());
  traversal.onChannel('http', (ch) => tunnel.attach(ch.stream, ch.info.peerNode));
  ctx.addStatus(
    'http',
    (): HttpCoreStatus => ({
      tunnel: tunnel.status(),
      authorization: { ...authorizer.stats, tokenKeys: tokens.size },
      allowList: { automatic: allowList.rules().automatic.length, editable: allowList.rules().editable.length },
    }),
  );
  return { allowList, authorizer, setInsideNodes, allowListShared: shared };
}
