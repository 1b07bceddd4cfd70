import { readFileSync } from 'node:fs';
import type { CoreConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { TraversalClient } from '../traversal/index.js';
import { startAdmin } from '../admin/index.js';
import { loadTls } from './tls-files.js';
import type { RunningNode } from './running-node.js';

/** The core (Expressway-C role): dials the edge and keeps the traversal link up. */
export async function startCore(cfg: CoreConfig, log: Logger): Promise<RunningNode & { traversal: TraversalClient }> {
  const tls = loadTls(cfg, log);
  const t = cfg.traversal;
  const password = t.password ?? readFileSync(t.password_file!, 'utf8').trim();
  const traversal = new TraversalClient({
    node: cfg.name,
    tls,
    peers: t.peers.map((p) => ({ address: p.address, ports: { sip: p.sip_port, http: p.http_tunnel_port, xmpp: p.xmpp_port } })),
    username: t.username,
    password,
    keepaliveMs: t.keepalive_s * 1000,
    reconnectInitialMs: t.reconnect_initial_s * 1000,
    reconnectMaxMs: t.reconnect_max_s * 1000,
    connectTimeoutMs: t.connect_timeout_s * 1000,
    log,
  });
  const started = new Date();
  const status = () => ({ node: cfg.name, role: 'core', started: started.toISOString(), traversal: traversal.status() });
  const admin = await startAdmin({ address: cfg.admin.address, port: cfg.admin.port, token: cfg.admin.token, log, status });
  traversal.start();
  return {
    role: 'core',
    name: cfg.name,
    ports: { admin: admin.port },
    status,
    traversal,
    async close() {
      await traversal.close();
      await admin.close();
    },
  };
}
