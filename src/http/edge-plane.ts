import { readFileSync } from 'node:fs';
import type { EdgeConfig } from '../config/index.js';
import type { IntrusionProtection, NodeContext } from '../host/index.js';
import { EdgeTunnel, encodeIdentity, type ChannelSource } from '../traversal/index.js';
import { dnsNames } from '../certs/index.js';
import { EdgeListener } from './edge-listener.js';
import { httpAnswer } from './errors.js';
import { RouteCache, RouteError } from './route.js';
import { answerText, forward, unavailable } from './edge-forward.js';
import type { HttpEdgeStatus } from './status.js';

export interface HttpEdge {
  /** http.domain_certs, read: offered by SNI on the HTTPS listener and the XMPP one. */
  domainCerts: Array<{ cert: string; key: string }>;
  /** Starts the public listener and takes the tunnels core opens; resolves with the bound port. */
  attach(traversal: ChannelSource): Promise<number>;
  /**
   * The ports the SIP and XMPP listeners bound (they differ from the configuration's when it says 0): the edge
   * configuration hands them to clients, so it must give the real ones.
   */
  setPublicPorts(ports: { sipTls: number; xmpp: number }): void;
}

const seconds = (s: number) => s * 1000;

/**
 * The edge's half of the HTTPS proxy: the public listener and the tunnel's client end; failed sign-ins and
 * requests the allow list refused count against the node's intrusion protection. It holds no credential and
 * no allow list: everything but syntax is decided by core.
 */
export function createHttpEdge(ctx: NodeContext<EdgeConfig>, intrusion: IntrusionProtection): HttpEdge {
  const { cfg } = ctx;
  const log = ctx.log.child({ plane: 'http' });
  const http = cfg.http;

  const domainCerts = http.domain_certs.map((d, i) => {
    try {
      return { cert: readFileSync(d.cert_file, 'utf8'), key: readFileSync(d.key_file, 'utf8') };
    } catch (err) {
      throw new Error(`http.domain_certs[${i}]: ${(err as Error).message}`);
    }
  });

  let identity = '';
  let faces = { sipTls: cfg.public.sip_tls_port, xmpp: cfg.public.xmpp_port, https: cfg.public.https_port };
  const encode = () =>
    (identity = encodeIdentity({
      node: cfg.name,
      address: http.public_name ?? dnsNames(ctx.tls.cert)[0] ?? cfg.public.address,
      sipTlsPort: faces.sipTls,
      httpsPort: faces.https,
      xmppPort: faces.xmpp,
    }));

  return {
    domainCerts,
    setPublicPorts(ports) {
      faces = { ...faces, ...ports };
      encode();
    },
    async attach(traversal) {
      const tunnel = new EdgeTunnel(log);
      ctx.onClose(() => tunnel.close());
      traversal.onChannel(
        'http',
        (ch) => void tunnel.attach(ch.stream, ch.info.peerNode, (cb) => ch.once('close', cb)),
      );
      const routes = new RouteCache();
      const listener = new EdgeListener({
        address: cfg.public.address,
        port: cfg.public.https_port,
        cert: ctx.tls.cert,
        key: ctx.tls.key,
        domainCerts,
        limits: {
          maxHeaderBytes: http.max_header_bytes,
          maxBodyBytes: http.max_body_bytes,
          maxRequestsPerConnectionPerS: http.max_requests_per_connection_per_s,
          headerTimeoutMs: seconds(http.header_timeout_s),
          idleTimeoutMs: seconds(http.idle_timeout_s),
        },
        refuseConnection: (a) => intrusion.isBlocked(a),
        log,
        handler: (req, res, body) => {
          const client = (req.socket?.remoteAddress ?? '').replace(/^::ffff:/, '');
          if (intrusion.isBlocked(client)) {
            return void answerText(res, 403, 'this address is blocked by intrusion protection\n');
          }
          try {
            routes.parse(req.url ?? '', () => true);
          } catch (err) {
            if (!(err instanceof RouteError)) throw err;
            log.info(
              { client, target: (req.url ?? '').slice(0, 200), code: err.code, reason: err.message },
              'http request refused at the edge',
            );
            if (err.status === 400) intrusion.fail('allow_list', client);
            const { status, body: text } = httpAnswer(err);
            return void answerText(res, status, text);
          }
          if (!tunnel.up)
            return void unavailable(res, 'the inside is not reachable at the moment (no HTTP tunnel); retry shortly');
          void forward(tunnel, req, res, body, {
            clientAddress: client,
            edgeIdentity: identity,
            maintenance: ctx.maintenance(),
          }).then((verdict) => {
            // A rate-limited sign-in is a failed one too: guessing passwords fast must not escape the count.
            if (verdict === 'auth-failed' || verdict === 'rate-limited') intrusion.fail('http_auth', client);
            else if (verdict === 'not-allowed') intrusion.fail('allow_list', client);
          });
        },
      });
      const port = await listener.listen();
      ctx.onClose(() => listener.close());
      faces.https = port;
      encode();
      ctx.addStatus('http', (): HttpEdgeStatus => ({ port, tunnel: tunnel.status() }));
      return port;
    },
  };
}
