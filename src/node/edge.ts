import type { EdgeConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { TraversalServer } from '../traversal/index.js';
import { startAdmin } from '../admin/index.js';
import { loadTls } from './tls-files.js';
import type { RunningNode } from './running-node.js';

/** The edge (Expressway-E role): listens for core on the traversal ports; never dials inward. */
export async function startEdge(cfg: EdgeConfig, log: Logger): Promise<RunningNode & { traversal: TraversalServer }> {
  const tls = loadTls(cfg, log);
  const traversal = new TraversalServer({
    node: cfg.name,
    tls,
    subjectName: cfg.traversal.tls_verify_subject_name,
    accounts: new Map(cfg.traversal.accounts.map((a) => [a.username, a.password_hash])),
    keepaliveMs: cfg.traversal.keepalive_s * 1000,
    handshakeTimeoutMs: cfg.traversal.handshake_timeout_s * 1000,
    address: cfg.traversal.address,
    ports: { sip: cfg.traversal.sip_port, http: cfg.traversal.http_tunnel_port, xmpp: cfg.traversal.xmpp_port },
    log,
  });
  const ports = await traversal.start();
  const started = new Date();
  const status = () => ({ node: cfg.name, role: 'edge', started: started.toISOString(), traversal: traversal.status() });
  let admin;
  try {
    admin = await startAdmin({ address: cfg.admin.address, port: cfg.admin.port, token: cfg.admin.token, log, status });
  } catch (err) {
    await traversal.close();
    throw err;
  }
  return {
    role: 'edge',
    name: cfg.name,
    ports: { traversalSip: ports.sip, httpTunnel: ports.http, xmppTraversal: ports.xmpp, admin: admin.port },
    status,
    traversal,
    async close() {
      await traversal.close();
      await admin.close();
    },
  };
}
