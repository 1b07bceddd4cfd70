import type { TLSSocket } from 'node:tls';
import type { CoreConfig } from '../config/index.js';
import type { DomainTable } from '../domains/index.js';
import type { DiscoveryResult } from '../discovery/index.js';
import type { NodeContext } from '../host/index.js';
import { CoreTunnel, type ChannelSource, type TunnelAnswer, type TunnelRequest } from '../traversal/index.js';
import { XMPP_DOMAIN_HEADER, XMPP_STREAM_WINDOW } from './edge-stream.js';
import { connectImp, type ImpNode } from './imp-connect.js';
import { StreamBook } from './stream-book.js';
import type { XmppStatus } from './status.js';

interface CoreStream {
  remote: string;
  domain: string;
  imp: string;
  since: string;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Every client session is one tunnel stream for as long as it lasts: the HTTP tunnel's 4096 concurrent requests
 * would cap a core link at 4096 chat sessions, so the xmpp tunnel allows as many as the edge takes clients.
 */
const XMPP_TUNNEL_STREAMS = 50_000;

export interface XmppDiscovery {
  result(): DiscoveryResult;
}

/** IM and Presence nodes for a deployment: the configured ones, then any more discovery found (on 5222). */
export function impNodes(
  cfg: Pick<CoreConfig, 'im_presence'>,
  deployment: string,
  discovered: DiscoveryResult | undefined,
): ImpNode[] {
  const clusters = cfg.im_presence.filter((c) => c.deployment === deployment);
  const nodes: ImpNode[] = clusters.flatMap((c) =>
    c.nodes.length
      ? c.nodes.map((n) => ({ address: n.address, port: n.xmpp_port, tlsVerify: c.tls_verify }))
      : [{ address: c.publisher, port: 5222, tlsVerify: c.tls_verify }],
  );
  const known = new Set(nodes.map((n) => n.address.toLowerCase()));
  for (const n of discovered?.insideNodes ?? []) {
    if (n.type !== 'im_presence' || n.deployment !== deployment || known.has(n.address.toLowerCase())) continue;
    known.add(n.address.toLowerCase());
    nodes.push({ address: n.address, port: 5222, tlsVerify: clusters[0]?.tls_verify ?? true });
  }
  return nodes;
}

/**
 * Core's half of the XMPP plane: serves the multiplexed tunnel on the xmpp traversal channel and relays each
 * tunnel stream (one remote client's XMPP session) to an IM and Presence node over STARTTLS. Core reads none of
 * the stream: SASL, bind and stanzas are between the client and IM&P.
 */
export function attachXmppCore(
  ctx: NodeContext<CoreConfig>,
  traversal: ChannelSource,
  domains: DomainTable,
  discovery?: XmppDiscovery,
): void {
  const { cfg } = ctx;
  const log = ctx.log.child({ plane: 'xmpp' });
  const book = new StreamBook<CoreStream>();
  let next = 0;

  const relay = async (req: TunnelRequest): Promise<TunnelAnswer> => {
    if (req.method !== 'POST' || req.target !== '/xmpp')
      return { status: 404, body: 'the xmpp tunnel carries XMPP streams only\n' };
    if (ctx.maintenance()) {
      book.refused('maintenance');
      return { status: 503, body: 'this core node is in maintenance mode\n' };
    }
    const domain = String(req.headers[XMPP_DOMAIN_HEADER] ?? '');
    const entry = domains.lookup(domain);
    if (!entry?.im_presence) {
      book.refused('host-unknown');
      return { status: 403, body: `IM and Presence is not served for ${domain}\n` };
    }
    const nodes = impNodes(cfg, entry.deployment, discovery?.result());
    // Streams spread over the cluster's nodes; a node that does not answer passes the stream to the next.
    const start = next++;
    let conn: TLSSocket | undefined;
    let imp = '';
    for (let i = 0; i < nodes.length && !conn; i++) {
      const node = nodes[(start + i) % nodes.length]!;
      try {
        conn = await connectImp(node, domain, ctx.tls.ca, cfg.xmpp.connect_timeout_s * 1000, cfg.source_address);
        imp = `${node.address}:${node.port}`;
      } catch (err) {
        log.warn({ err: (err as Error).message, domain }, 'xmpp: IM and Presence node not reachable');
      }
    }
    if (!conn) {
      book.refused('imp-unreachable');
      return { status: 502, body: `no IM and Presence node reachable for ${domain}\n` };
    }
    const s: CoreStream = {
      remote: req.clientAddress,
      domain,
      imp,
      since: new Date().toISOString(),
      bytesIn: 0,
      bytesOut: 0,
    };
    book.add(s);
    const tls = conn;
    tls.on('error', (err) => log.debug({ err: err.message, imp }, 'xmpp: IM and Presence connection error'));
    tls.on('data', (c: Buffer) => (s.bytesOut += c.length));
    tls.once('close', () => {
      book.remove(s);
      // The answer's end (IM&P's last bytes) must leave before the tunnel stream goes; the edge closes it anyway.
      const t = setTimeout(() => req.body.destroy(), 2000);
      t.unref();
      req.body.once('close', () => clearTimeout(t));
    });
    req.body.on('data', (c: Buffer) => (s.bytesIn += c.length));
    // The edge cancelled (client gone, stream error, link down): the IM&P connection goes with it.
    req.body.once('close', () => {
      if (!req.body.readableEnded) tls.destroy();
    });
    req.body.pipe(tls);
    return { status: 200, body: tls };
  };

  const tunnel = new CoreTunnel(relay, log, 'xmpp', XMPP_TUNNEL_STREAMS, XMPP_STREAM_WINDOW);
  ctx.onClose(() => tunnel.close());
  traversal.onChannel('xmpp', (ch) => tunnel.attach(ch.stream, ch.info.peerNode));
  ctx.addStatus('xmpp', (): XmppStatus => ({ ...book.status((s) => ({ ...s })), tunnel: tunnel.status() }));
}
