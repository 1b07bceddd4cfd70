// An edge, a core and the lab call control in this process, on loopback with ephemeral ports: the whole
// registration path with real TLS, real traversal link and real TCP to call control.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/certs/index.js';
import { buildConfig, type CoreConfig, type EdgeConfig } from '../../src/config/index.js';
import { startCore, startEdge, type RunningNode } from '../../src/node/index.js';
import { hashPassword, type TraversalClient } from '../../src/traversal/index.js';
import { CallControl } from '../../src/lab/call-control.js';
import { SipClient, type SipClientOptions } from '../../src/lab/sip-client.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';
import { startLinkRelay, type LinkRelay, type LinkRelayOptions } from './link-relay.js';

export const DOMAIN = 'example.com';
export const USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };

export interface Pair {
  edge: RunningNode;
  core: RunningNode & { traversal: TraversalClient };
  callControl: CallControl;
  ca: string;
  edgeLog: ReturnType<typeof capturedLogger>;
  coreLog: ReturnType<typeof capturedLogger>;
  /** A client connected to the edge; `answer` gives its status for requests from the inside (SipClientOptions). */
  client(
    user: string,
    opts?: { password?: string; domain?: string; expiresS?: number; answer?: SipClientOptions['answer'] },
  ): Promise<SipClient>;
  edgeStatus(): Record<string, unknown>;
  link: LinkRelay | undefined;
  /** Stops the edge and starts a new process's worth of it on the same ports; core reconnects by itself. */
  restartEdge(): Promise<void>;
  close(): Promise<void>;
}

export interface PairOptions {
  edge?: Record<string, unknown>;
  core?: Record<string, unknown>;
  domains?: Array<Record<string, unknown>>;
  keepaliveS?: number;
  /** Run the SIP traversal channel through a relay the test can cut (Pair.link). */
  relay?: boolean;
  /** The cluster is in mixed mode: call control listens for TLS too and core must use it. */
  mixedMode?: boolean;
  /** Mixed mode: call control's certificate comes from a CA core does not trust, and the cluster's tls_verify. */
  untrustedCallControl?: { tlsVerify: boolean };
  /**
   * The nodes' log level (default info). Debug logs every hop of every message: tests that read those lines
   * ask for it; load tests through the pair would spend their time writing and re-reading them.
   */
  logLevel?: 'debug' | 'info';
}

export async function startPair(opts: PairOptions = {}): Promise<Pair> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-sip-'));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge sip test CA' });
  const edgeCert = await ca.issue({
    commonName: 'edge.example.com',
    dnsNames: ['edge.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  const coreCert = await ca.issue({ commonName: 'core.example.com', dnsNames: ['core.example.com'] });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'edge.pem': edgeCert.cert,
    'edge.key': edgeCert.key,
    'core.pem': coreCert.cert,
    'core.key': coreCert.key,
  };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body, { mode: 0o600 });
  const f = (name: string) => join(dir, name);
  const keepalive_s = opts.keepaliveS ?? 15;

  const edgeLog = capturedLogger('edge1');
  const coreLog = capturedLogger('core1');
  for (const l of [edgeLog, coreLog]) l.log.level = opts.logLevel ?? 'info';
  const ccCa = opts.untrustedCallControl
    ? await CertificateAuthority.create({ commonName: 'a CA core does not know' })
    : ca;
  const ccCert = opts.mixedMode
    ? await ccCa.issue({ commonName: 'cucm1.example.com', dnsNames: ['cucm1.example.com'], ipAddresses: ['127.0.0.1'] })
    : undefined;
  const callControl = await new CallControl({
    address: '127.0.0.1',
    port: 0,
    users: USERS,
    log: capturedLogger('cc').log,
    ...(ccCert ? { tls: { cert: ccCert.cert, key: ccCert.key, port: 0 } } : {}),
  }).start();
  const passwordHash = await hashPassword('secret');
  // Each node its own media range on loopback: the media tests send real packets through both.
  const edgeMedia = { ...mediaRange(), address: '127.0.0.1' };
  // A restarted edge keeps its ports: core's peer entry and the clients' Path name them.
  const edgeCfg = (ports?: RunningNode['ports']) =>
    buildConfig(
      {
        role: 'edge',
        name: 'edge1',
        admin: { port: 0 },
        tls: { cert_file: f('edge.pem'), key_file: f('edge.key'), ca_file: f('ca.pem') },
        public: { address: '127.0.0.1', sip_tls_port: ports?.sipTls ?? 0, https_port: 0, xmpp_port: 0 },
        media: edgeMedia,
        traversal: {
          address: '127.0.0.1',
          sip_port: ports?.traversalSip ?? 0,
          http_tunnel_port: ports?.httpTunnel ?? 0,
          xmpp_port: ports?.xmppTraversal ?? 0,
          tls_verify_subject_name: 'core.example.com',
          accounts: [{ username: 'traversal', password_hash: passwordHash }],
          keepalive_s,
        },
        ...opts.edge,
      },
      'sip test edge',
    ) as EdgeConfig;
  let edge = await startEdge(edgeCfg(), edgeLog.log);
  const link = opts.relay ? await startLinkRelay({ host: '127.0.0.1', port: edge.ports.traversalSip! }) : undefined;
  const coreCfg = buildConfig(
    {
      role: 'core',
      name: 'core1',
      admin: { port: 0 },
      tls: { cert_file: f('core.pem'), key_file: f('core.key'), ca_file: f('ca.pem') },
      media: { ...mediaRange(), address: '127.0.0.1' },
      domains: opts.domains ?? [
        { name: DOMAIN, sip_registrations: true },
        { name: 'closed.example.com', sip_registrations: false },
      ],
      unified_cm: [
        {
          publisher: '127.0.0.1',
          mixed_mode: opts.mixedMode === true,
          ...(opts.untrustedCallControl ? { tls_verify: opts.untrustedCallControl.tlsVerify } : {}),
          nodes: [
            { address: '127.0.0.1', sip_port: callControl.ports.tcp, sip_tls_port: callControl.ports.tls || 5061 },
          ],
        },
      ],
      traversal: {
        peers: [
          {
            address: '127.0.0.1',
            sip_port: link?.port ?? edge.ports.traversalSip,
            http_tunnel_port: edge.ports.httpTunnel,
            xmpp_port: edge.ports.xmppTraversal,
          },
        ],
        username: 'traversal',
        password: 'secret',
        keepalive_s,
        reconnect_initial_s: 0.05,
        reconnect_max_s: 0.2,
      },
      ...opts.core,
    },
    'sip test core',
  ) as CoreConfig;
  const core = (await startCore(coreCfg, coreLog.log)) as Pair['core'];
  const edgeStatus = () => (edge.status() as { sip: Record<string, unknown> }).sip;
  await waitFor(
    'the edge to learn the domain table',
    () => edgeStatus().domains !== null && edgeStatus().domains !== undefined,
    10_000,
  );
  const clients: SipClient[] = [];
  return {
    get edge() {
      return edge;
    },
    core,
    callControl,
    ca: ca.cert,
    edgeLog,
    coreLog,
    edgeStatus,
    link,
    async client(user, o = {}) {
      const c = new SipClient({
        host: '127.0.0.1',
        port: edge.ports.sipTls!,
        ca: ca.cert,
        user,
        password: o.password ?? USERS[user] ?? 'x',
        domain: o.domain ?? DOMAIN,
        expiresS: o.expiresS ?? 600,
        timeoutMs: 5000,
        answer: o.answer,
      });
      await c.connect();
      clients.push(c);
      return c;
    },
    async restartEdge() {
      const ports = edge.ports;
      await edge.close();
      edge = await startEdge(edgeCfg(ports), edgeLog.log);
      await waitFor(
        'the restarted edge to learn the domain table',
        () => edgeStatus().domains !== null && edgeStatus().domains !== undefined,
        10_000,
      );
    },
    async close() {
      for (const c of clients) c.close();
      await core.close();
      await link?.close();
      await edge.close();
      await callControl.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A pair whose core sends to call control at `sipPort`, served by `peer` (Kamailio, a relay), which is closed when
 * the pair fails to start and after the pair when closed.
 */
export async function startPairInFrontOf(
  peer: { close(): Promise<void> },
  sipPort: number,
  opts: PairOptions = {},
): Promise<{ pair: Pair; close(): Promise<void> }> {
  let pair: Pair;
  try {
    pair = await startPair({
      ...opts,
      core: {
        ...opts.core,
        unified_cm: [{ publisher: '127.0.0.1', nodes: [{ address: '127.0.0.1', sip_port: sipPort }] }],
      },
    });
  } catch (err) {
    await peer.close();
    throw err;
  }
  return {
    pair,
    async close() {
      await pair.close();
      await peer.close();
    },
  };
}

/** A pair whose core reaches call control through a relay that delays or rewrites call control's answers. */
export async function startPairWithCallControlRelay(
  relayOpts: LinkRelayOptions,
  opts: PairOptions = {},
): Promise<{ pair: Pair; relay: LinkRelay; close(): Promise<void> }> {
  const callControl = { host: '127.0.0.1', port: 0 };
  const relay = await startLinkRelay(callControl, relayOpts);
  const { pair, close } = await startPairInFrontOf(relay, relay.port, opts);
  callControl.port = pair.callControl.ports.tcp;
  return { pair, relay, close };
}
