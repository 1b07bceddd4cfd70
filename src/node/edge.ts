import type { EdgeConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { TraversalServer } from '../traversal/index.js';
import { startAdmin } from '../admin/index.js';
import { createHttpEdge } from '../http/index.js';
import { SipStreamFramer, attachEdgeSip } from '../sip/index.js';
import { attachTurnEdge } from '../turn/index.js';
import { attachXmppEdge } from '../xmpp/index.js';
import { loadTls, watchCertificates } from './tls-files.js';
import { createContext } from './context.js';
import { openStore } from './store.js';
import { startIntrusionProtection } from './intrusion.js';
import { startMediaEngine } from './media.js';
import type { RunningNode } from './running-node.js';
import { VERSION } from './version.js';
import { adminSecurity } from './admin-options.js';
import { attachDiagnostics, hepFeed } from '../diag/index.js';

/** The edge (Expressway-E role): listens for core on the traversal ports; never dials inward. */
export async function startEdge(cfg: EdgeConfig, log: Logger): Promise<RunningNode & { traversal: TraversalServer }> {
  const tls = loadTls(cfg, log);
  const store = await openStore(cfg, log);
  const hep = hepFeed(cfg, log);
  const node = createContext(
    { cfg, log, store, tls, ...(hep ? { sipTap: hep.tap } : {}) },
    { node: cfg.name, role: 'edge', version: VERSION, started: new Date().toISOString() },
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
    const intrusion = startIntrusionProtection(ctx);
    const httpEdge = createHttpEdge(ctx, intrusion);
    const traversal = new TraversalServer({
      node: cfg.name,
      tls,
      subjectName: cfg.traversal.tls_verify_subject_name,
      accounts: new Map(cfg.traversal.accounts.map((a) => [a.username, a.password_hash])),
      keepaliveMs: cfg.traversal.keepalive_s * 1000,
      handshakeTimeoutMs: cfg.traversal.handshake_timeout_s * 1000,
      address: cfg.traversal.address,
      ports: { sip: cfg.traversal.sip_port, http: cfg.traversal.http_tunnel_port, xmpp: cfg.traversal.xmpp_port },
      framer: () => new SipStreamFramer(),
      log,
      // Tunnel authentication failures count towards blocking, as sign-ins do.
      onRefused: (address) => void intrusion.fail('tunnel_auth', address),
    });
    ctx.onClose(() => traversal.close());
    const ports = await traversal.start();
    ctx.addStatus('traversal', () => traversal.status());

    // Planes attach here, each with ctx and the traversal server's onChannel().
    watchCertificates(ctx, tls);
    const httpsPort = await httpEdge.attach(traversal);
    // One address for both faces unless they differ (then every interface): media.address chooses otherwise.
    const mediaBind =
      cfg.media.address ?? (cfg.public.address === cfg.traversal.address ? cfg.public.address : '0.0.0.0');
    const media = await startMediaEngine(ctx, mediaBind, true, log);
    const turn = attachTurnEdge(ctx, { media, mediaBind });
    const sip = await attachEdgeSip(ctx, traversal, media, mediaBind);
    const xmppPort = await attachXmppEdge(ctx, {
      traversal,
      domains: () => sip.domainTable,
      intrusion,
      domainCerts: httpEdge.domainCerts,
    });
    httpEdge.setPublicPorts({ sipTls: sip.port, xmpp: xmppPort });

    const admin = await startAdmin({
      address: cfg.admin.address,
      port: cfg.admin.port,
      ...adminSecurity(cfg),
      log,
      status: () => node.status(),
      control: node,
    });
    ctx.onClose(() => admin.close());
    attachDiagnostics(ctx, () => node.status(), {
      ports: () => [httpsPort, sip.port, xmppPort, ports.sip, ports.http, ports.xmpp],
      media: { min: cfg.media.port_min, max: cfg.media.port_max },
    });
    return {
      role: 'edge',
      name: cfg.name,
      ports: {
        https: httpsPort,
        sipTls: sip.port,
        xmpp: xmppPort,
        traversalSip: ports.sip,
        httpTunnel: ports.http,
        xmppTraversal: ports.xmpp,
        admin: admin.port,
        ...(turn ? { turn: turn.ports.udp } : {}),
      },
      status: () => node.status(),
      traversal,
      close: () => node.close(),
    };
  } catch (err) {
    await node.close();
    throw err;
  }
}
