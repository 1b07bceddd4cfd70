import { readFileSync } from 'node:fs';
import type { CoreConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { TraversalClient } from '../traversal/index.js';
import { startAdmin } from '../admin/index.js';
import { attachHttpCore } from '../http/index.js';
import { SipStreamFramer, attachCoreSip } from '../sip/index.js';
import { attachXmppCore } from '../xmpp/index.js';
import { attachDomains, shareDomains } from '../domains/index.js';
import { attachDiscovery, type Discovery } from '../discovery/index.js';
import { loadTls, watchCertificates } from './tls-files.js';
import { createContext } from './context.js';
import { openStore } from './store.js';
import { startMediaEngine } from './media.js';
import type { RunningNode } from './running-node.js';
import { VERSION } from './version.js';
import { adminSecurity } from './admin-options.js';
import { attachDiagnostics, hepFeed } from '../diag/index.js';

/** The core (Expressway-C role): dials the edge and keeps the traversal link up. */
export async function startCore(
  cfg: CoreConfig,
  log: Logger,
): Promise<RunningNode & { traversal: TraversalClient; discovery: Discovery }> {
  const tls = loadTls(cfg, log);
  const store = await openStore(cfg, log);
  const hep = hepFeed(cfg, log);
  const node = createContext(
    { cfg, log, store, tls, ...(hep ? { sipTap: hep.tap } : {}) },
    { node: cfg.name, role: 'core', version: VERSION, started: new Date().toISOString() },
  );
  const { ctx } = node;
  ctx.onClose(() => store.close());
  if (hep) {
    ctx.onClose(() => hep.close());
    ctx.addStatus('hep', () => ({
      collector: `${cfg.hep!.address}:${cfg.hep!.port}`,
      agentId: cfg.hep!.agent_id,
      sent: hep.sent,
    }));
  }
  ctx.addStatus('store', () => store.describe());
  try {
    const t = cfg.traversal;
    const traversal = new TraversalClient({
      node: cfg.name,
      tls,
      peers: t.peers.map((p) => ({
        address: p.address,
        ports: { sip: p.sip_port, http: p.http_tunnel_port, xmpp: p.xmpp_port },
      })),
      username: t.username,
      password: t.password ?? readFileSync(t.password_file!, 'utf8').trim(),
      keepaliveMs: t.keepalive_s * 1000,
      reconnectInitialMs: t.reconnect_initial_s * 1000,
      reconnectMaxMs: t.reconnect_max_s * 1000,
      connectTimeoutMs: t.connect_timeout_s * 1000,
      framer: () => new SipStreamFramer(),
      ...(cfg.source_address ? { localAddress: cfg.source_address } : {}),
      log,
    });
    ctx.onClose(() => traversal.close());
    ctx.addStatus('traversal', () => traversal.status());

    // Planes attach here, each with ctx and the traversal client's onChannel(), before the link starts.
    watchCertificates(ctx, tls);
    const domains = attachDomains(ctx);
    // The cluster's copy (docs/cluster.md) is in force before any plane serves.
    await shareDomains(ctx, domains);
    const discovery = attachDiscovery(ctx);
    const httpCore = attachHttpCore(ctx, traversal, domains, { ready: () => discovery.whenFresh() });
    await httpCore.allowListShared;
    // The allow list's automatic rules and the sign-in service records follow discovery.
    discovery.on('change', (r) => httpCore.setInsideNodes(r.insideNodes));
    const media = await startMediaEngine(ctx, cfg.media.address ?? '0.0.0.0', false, log);
    const sip = attachCoreSip(ctx, traversal, domains, discovery, media);
    // A change of the domains (here or on a peer) reaches every edge this core is linked to at once.
    domains.onChange(() => sip.publishDomains());
    attachXmppCore(ctx, traversal, domains, discovery);

    const admin = await startAdmin({
      address: cfg.admin.address,
      port: cfg.admin.port,
      ...adminSecurity(cfg),
      log,
      status: () => node.status(),
      control: node,
    });
    ctx.onClose(() => admin.close());
    // Core's traffic is what it dials: the edge's traversal ports and the inside servers' ports.
    const dialled = [
      ...t.peers.flatMap((p) => [p.sip_port, p.http_tunnel_port, p.xmpp_port]),
      ...[...cfg.unified_cm, ...cfg.im_presence, ...cfg.unity_connection].flatMap((c) => [
        c.https_port,
        ...c.nodes.flatMap((n) => [n.sip_port, n.sip_tls_port, n.https_port, n.tftp_port, n.xmpp_port]),
      ]),
    ];
    attachDiagnostics(ctx, () => node.status(), {
      ports: () => dialled,
      media: { min: cfg.media.port_min, max: cfg.media.port_max },
    });
    traversal.start();
    return {
      role: 'core',
      name: cfg.name,
      ports: { admin: admin.port },
      status: () => node.status(),
      traversal,
      discovery,
      close: () => node.close(),
    };
  } catch (err) {
    await node.close();
    throw err;
  }
}
