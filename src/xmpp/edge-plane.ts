import { createServer, type Server } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { EdgeConfig } from '../config/index.js';
import type { DomainTable } from '../domains/index.js';
import type { IntrusionProtection, NodeContext } from '../host/index.js';
import { EdgeTunnel, type ChannelSource } from '../traversal/index.js';
import { sniCallback } from '../certs/index.js';
import { listenOn } from '../util/listen.js';
import { EdgeXmppStream, XMPP_STREAM_WINDOW, type Refusal } from './edge-stream.js';
import { StreamBook } from './stream-book.js';
import type { XmppStatus } from './status.js';

export interface XmppEdgeDeps {
  traversal: ChannelSource;
  /** The domain table core last sent over the SIP channel (null until then). */
  domains: () => DomainTable | null;
  /** The edge's intrusion protection (category xmpp: failed SASL sign-ins). */
  intrusion: IntrusionProtection;
  /** Offered by SNI, as on the HTTPS listener. */
  domainCerts: ReadonlyArray<{ cert: string; key: string }>;
}

const normal = (a: string | undefined) => (a ?? '').replace(/^::ffff:/, '');

/**
 * The edge's XMPP listener (public.xmpp_port, 5222): client-to-server streams as Jabber opens them. Each one,
 * once under TLS, becomes one stream of the multiplexed tunnel core keeps on the xmpp traversal channel.
 */
export async function attachXmppEdge(ctx: NodeContext<EdgeConfig>, deps: XmppEdgeDeps): Promise<number> {
  const { cfg } = ctx;
  const log = ctx.log.child({ plane: 'xmpp' });
  const x = cfg.xmpp;
  const tunnel = new EdgeTunnel(log, 'xmpp', XMPP_STREAM_WINDOW);
  ctx.onClose(() => tunnel.close());
  deps.traversal.onChannel(
    'xmpp',
    (ch) => void tunnel.attach(ch.stream, ch.info.peerNode, (cb) => ch.once('close', cb)),
  );
  const book = new StreamBook<EdgeXmppStream>();
  const tls = {
    secureContext: createSecureContext({ cert: ctx.tls.cert, key: ctx.tls.key, minVersion: 'TLSv1.2' }),
    SNICallback: sniCallback(deps.domainCerts),
  };
  const admit = (domain: string): Refusal | undefined => {
    if (ctx.maintenance())
      return {
        condition: 'system-shutdown',
        text: 'this node is in maintenance mode; sign in through another',
        reason: 'maintenance',
      };
    const table = deps.domains();
    if (!table)
      return {
        condition: 'remote-connection-failed',
        text: 'the inside is not reachable at the moment; retry shortly',
        reason: 'no-link',
      };
    if (!table.allows(domain, 'im_presence'))
      return { condition: 'host-unknown', text: `IM and Presence is not served for ${domain}`, reason: 'host-unknown' };
    return undefined;
  };
  const server: Server = createServer({ noDelay: true }, (socket) => {
    const remote = normal(socket.remoteAddress);
    if (deps.intrusion.isBlocked(remote)) {
      book.refused('blocked');
      return void socket.destroy();
    }
    const stream = new EdgeXmppStream(socket, remote, {
      admit,
      tls,
      open: (method, path, headers) => tunnel.open(method, path, headers),
      // Blocked by this failure, or already (by an earlier one, or per cluster a round trip later): the stream ends.
      authFailed: (a) => deps.intrusion.fail('xmpp', a) || deps.intrusion.isBlocked(a),
      limits: {
        maxStanzaChars: x.max_stanza_chars,
        maxStanzasPerS: x.max_stanzas_per_s,
        handshakeTimeoutMs: x.handshake_timeout_s * 1000,
        idleTimeoutMs: x.idle_timeout_s * 1000,
      },
      log,
      ended: (s, reason) => book.remove(s, reason),
    });
    book.add(stream);
  });
  server.on('error', (err) => log.error({ err: err.message }, 'xmpp listener error'));
  const port = await listenOn(server, cfg.public.xmpp_port, cfg.public.address);
  log.info({ address: cfg.public.address, port }, 'xmpp listener up');
  ctx.onClose(
    () =>
      new Promise<void>((resolve) => {
        for (const s of book.all()) s.close('system-shutdown', 'the edge is shutting down');
        server.close(() => resolve());
      }),
  );
  ctx.addStatus(
    'xmpp',
    (): XmppStatus => ({
      port,
      ...book.status((s) => ({
        jid: s.jid ?? null,
        domain: s.domain ?? null,
        remote: s.remote,
        since: s.since,
        stanzasIn: s.stanzasIn,
        stanzasOut: s.stanzasOut,
      })),
      tunnel: tunnel.status(),
    }),
  );
  return port;
}
