import type { EdgeIdentity } from '../traversal/index.js';

/** One SRV-like answer for a `serviceConfig` entry (the inside SRV records `_cisco-uds`, `_cuplogin`). */
export interface ServiceRecord {
  name: string;
  servers: Array<{ address: string; port: number; priority?: number; weight?: number }>;
}

export interface EdgeConfigInput {
  /** Every edge node (each becomes a sipEdgeServer, xmppEdgeServer and httpEdgeServer). */
  edges: readonly EdgeIdentity[];
  /** One route string per core node. */
  routes: readonly string[];
  services: readonly ServiceRecord[];
  /** The user's home UDS server. */
  userUds?: { address: string; port: number };
}

const ESC: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ESC[c]!);
}

function server(address: string, port: number): string {
  return `<server><address>${xmlEscape(address)}</address><tlsPort>${port}</tlsPort></server>`;
}

/** The get_edge_config answer as Jabber reads it (seed 002 §1.4). */
export function edgeConfigXml(input: EdgeConfigInput): string {
  const services = input.services
    .map(
      (s) =>
        `<service><name>${xmlEscape(s.name)}</name>${s.servers
          .map(
            (v) =>
              `<server><priority>${v.priority ?? 10}</priority><weight>${v.weight ?? 10}</weight><port>${v.port}</port><address>${xmlEscape(v.address)}</address></server>`,
          )
          .join('')}</service>`,
    )
    .join('');
  const each = (pick: (e: EdgeIdentity) => number) => input.edges.map((e) => server(e.address, pick(e))).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<getEdgeConfigResponse version="1.0">' +
    `<serviceConfig>${services}</serviceConfig>` +
    '<edgeConfig>' +
    `<sipEdgeServer>${each((e) => e.sipTlsPort)}</sipEdgeServer>` +
    `<sipRequest>${input.routes.map((r) => `<route>${xmlEscape(r)}</route>`).join('')}</sipRequest>` +
    `<xmppEdgeServer>${each((e) => e.xmppPort)}</xmppEdgeServer>` +
    `<httpEdgeServer>${each((e) => e.httpsPort)}</httpEdgeServer>` +
    '</edgeConfig>' +
    (input.userUds ? `<userUdsServer>${server(input.userUds.address, input.userUds.port)}</userUdsServer>` : '') +
    '</getEdgeConfigResponse>'
  );
}
