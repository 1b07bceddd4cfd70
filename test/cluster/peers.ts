// Peers of one cluster in this process, on 127.0.0.1 with ephemeral ports, configured as an operator would (through
// the configuration schema), their store a real redis-server: the shared configuration and intrusion tests start
// cores and edges from here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildConfig, type CoreConfig, type EdgeConfig } from '../../src/config/index.js';
import { startCore, startEdge } from '../../src/node/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { capturedLogger } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { writeNodePki } from '../support/node-files.js';

export const EDGE_NAME = 'edge.example.com';
const SECRET = 'cluster-secret';

export type StartedEdge = Awaited<ReturnType<typeof startEdge>>;
export type StartedCore = Awaited<ReturnType<typeof startCore>>;

export interface Peers {
  dir: string;
  ca: string;
  edge(name: string, extra?: Record<string, unknown>): Promise<StartedEdge>;
  /** A core linked to the edges given (their traversal ports), with the fields given (domains, http). */
  core(name: string, edges: StartedEdge[], extra?: Record<string, unknown>): Promise<StartedCore>;
  close(): Promise<void>;
}

export async function startPeers(store: string, cluster: string): Promise<Peers> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-peers-'));
  const ca = await writeNodePki(dir, ['127.0.0.1'], 'mra-edge cluster peers CA');
  const tls = (n: string) => ({
    cert_file: join(dir, `${n}.pem`),
    key_file: join(dir, `${n}.key`),
    ca_file: join(dir, 'ca.pem'),
  });
  const shared = { store, cluster: { name: cluster, store_timeout_ms: 1000 } };
  const hash = await hashPassword(SECRET);
  const running: Array<{ close(): Promise<void> }> = [];
  return {
    dir,
    ca: ca.cert,
    async edge(name, extra = {}) {
      const cfg = buildConfig(
        {
          role: 'edge',
          name,
          media: mediaRange(),
          admin: { port: 0 },
          tls: tls('edge'),
          public: { address: '127.0.0.1', sip_tls_port: 0, https_port: 0, xmpp_port: 0 },
          traversal: {
            address: '127.0.0.1',
            sip_port: 0,
            http_tunnel_port: 0,
            xmpp_port: 0,
            tls_verify_subject_name: 'core.example.com',
            accounts: [{ username: 'traversal', password_hash: hash }],
          },
          ...shared,
          ...extra,
        },
        `cluster test ${name}`,
      ) as EdgeConfig;
      const edge = await startEdge(cfg, capturedLogger(name).log);
      running.push(edge);
      return edge;
    },
    async core(name, edges, extra = {}) {
      const cfg = buildConfig(
        {
          role: 'core',
          name,
          media: mediaRange(),
          admin: { port: 0 },
          tls: tls('core'),
          traversal: {
            peers: edges.map((e) => ({
              address: '127.0.0.1',
              sip_port: e.ports.traversalSip,
              http_tunnel_port: e.ports.httpTunnel,
              xmpp_port: e.ports.xmppTraversal,
            })),
            username: 'traversal',
            password: SECRET,
            reconnect_initial_s: 0.1,
            reconnect_max_s: 0.5,
          },
          ...shared,
          ...extra,
        },
        `cluster test ${name}`,
        dir,
      ) as CoreConfig;
      const core = await startCore(cfg, capturedLogger(name).log);
      running.push(core);
      return core;
    },
    async close() {
      for (const n of running.reverse()) await n.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One admin request to a node: its status and JSON body. */
export async function admin(
  node: { ports: { admin?: number } },
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> & { result?: Record<string, unknown>; error?: string } }> {
  const r = await request(`http://127.0.0.1:${node.ports.admin}${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: r.statusCode, body: (await r.body.json()) as never };
}
