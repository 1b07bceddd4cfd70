import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { CertificateAuthority } from '../../src/certs/index.js';
import { buildConfig, type CoreConfig, type EdgeConfig } from '../../src/config/index.js';
import { startCore, startEdge } from '../../src/node/index.js';
import { startInsideServers, type InsideServers } from '../../src/lab/index.js';
import { hashPassword } from '../../src/traversal/index.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { mediaRange } from '../support/media-range.js';

export const DOMAIN = 'lab.example.com';
export const EDGE_NAME = 'edge.lab.example.com';
export const MDUDE = { id: 'mdude', password: 'thispasswdwillbereset' };
export const basicOf = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
export const b64 = (s: string, padded = false) => {
  const t = Buffer.from(s).toString('base64');
  return padded ? t : t.replace(/=+$/, '');
};

type StartedEdge = Awaited<ReturnType<typeof startEdge>>;
type StartedCore = Awaited<ReturnType<typeof startCore>>;

export interface Rig {
  edge: StartedEdge;
  core: StartedCore;
  inside: InsideServers;
  edgeLog: ReturnType<typeof capturedLogger>;
  coreLog: ReturnType<typeof capturedLogger>;
  ca: string;
  /** https://127.0.0.1:<edge https port> */
  base: string;
  httpsPort: number;
  /** The route segment for a service on the lab inside host. */
  route(service: 'uds' | 'tftp' | 'voicemail', opts?: { padded?: boolean; urlSafe?: boolean }): string;
  /** A client with its own source address (127.0.0.x), as a distinct remote host. */
  client(localAddress?: string): Agent;
  get(
    path: string,
    headers?: Record<string, string>,
    client?: Dispatcher,
    method?: string,
    body?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; text: string }>;
  restartCore(): Promise<void>;
  stopCore(): Promise<void>;
  close(): Promise<void>;
}

export interface RigOptions {
  edgeHttp?: Record<string, unknown>;
  /** Names of a domain certificate the edge offers by SNI (issued by the rig's CA). */
  domainCertNames?: string[];
  coreHttp?: Record<string, unknown>;
  /** The edge's xmpp section (limits). */
  edgeXmpp?: Record<string, unknown>;
  /** Starts another IM and Presence service (a certificate from the rig's CA) and gives its XMPP port. */
  imp?: (ca: CertificateAuthority) => Promise<number>;
}

/**
 * Edge, core and the lab's inside servers in this process on 127.0.0.1 with ephemeral ports, configured as
 * an operator would (validated through the config schema), the HTTP tunnel up before it resolves.
 */
export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'mra-http-'));
  const ca = await CertificateAuthority.create({ commonName: 'mra-edge http test CA' });
  const edgeCert = await ca.issue({ commonName: EDGE_NAME, dnsNames: [EDGE_NAME], ipAddresses: ['127.0.0.1'] });
  const coreCert = await ca.issue({ commonName: 'core.lab.example.com', dnsNames: ['core.lab.example.com'] });
  const insideCert = await ca.issue({
    commonName: 'cucm.lab.example.com',
    dnsNames: ['cucm.lab.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  const files: Record<string, string> = {
    'ca.pem': ca.cert,
    'edge.pem': edgeCert.cert,
    'edge.key': edgeCert.key,
    'core.pem': coreCert.cert,
    'core.key': coreCert.key,
  };
  for (const [n, body] of Object.entries(files)) writeFileSync(join(dir, n), body, { mode: 0o600 });
  const domainCerts: Record<string, unknown> = {};
  if (opts.domainCertNames) {
    const d = await ca.issue({ commonName: opts.domainCertNames[0]!, dnsNames: opts.domainCertNames });
    writeFileSync(join(dir, 'domain.pem'), d.cert);
    writeFileSync(join(dir, 'domain.key'), d.key, { mode: 0o600 });
    domainCerts.domain_certs = [{ cert_file: join(dir, 'domain.pem'), key_file: join(dir, 'domain.key') }];
  }
  const impPort = opts.imp ? await opts.imp(ca) : undefined;
  const tls = (n: string) => ({
    cert_file: join(dir, `${n}.pem`),
    key_file: join(dir, `${n}.key`),
    ca_file: join(dir, 'ca.pem'),
  });

  const inside = await startInsideServers({
    address: '127.0.0.1',
    ports: 'ephemeral',
    tls: { cert: insideCert.cert, key: insideCert.key },
    log: capturedLogger('lab').log,
    domain: DOMAIN,
  });
  const edgeLog = capturedLogger('edge1');
  const coreLog = capturedLogger('core1');
  const edgeCfg = buildConfig(
    {
      role: 'edge',
      media: mediaRange(),
      name: 'edge1',
      admin: { port: 0 },
      tls: tls('edge'),
      public: { address: '127.0.0.1', sip_tls_port: 0, https_port: 0, xmpp_port: 0 },
      traversal: {
        address: '127.0.0.1',
        sip_port: 0,
        http_tunnel_port: 0,
        xmpp_port: 0,
        tls_verify_subject_name: 'core.lab.example.com',
        accounts: [{ username: 'traversal', password_hash: await hashPassword('traversal-secret') }],
      },
      http: { ...(opts.edgeHttp ?? {}), ...domainCerts },
      xmpp: opts.edgeXmpp ?? {},
    },
    'http test edge',
  ) as EdgeConfig;
  const edge = await startEdge(edgeCfg, edgeLog.log);
  const node = { address: '127.0.0.1', https_port: inside.ports.uds, tftp_port: inside.ports.tftp };
  const coreCfg = buildConfig(
    {
      role: 'core',
      media: mediaRange(),
      name: 'core1',
      admin: { port: 0 },
      tls: tls('core'),
      traversal: {
        peers: [
          {
            address: '127.0.0.1',
            sip_port: edge.ports.traversalSip,
            http_tunnel_port: edge.ports.httpTunnel,
            xmpp_port: edge.ports.xmppTraversal,
          },
        ],
        username: 'traversal',
        password: 'traversal-secret',
        reconnect_initial_s: 0.1,
        reconnect_max_s: 0.5,
      },
      domains: [{ name: DOMAIN, sip_registrations: true, im_presence: true }],
      unified_cm: [{ publisher: '127.0.0.1', https_port: inside.ports.uds, nodes: [node] }],
      im_presence: [
        {
          publisher: '127.0.0.1',
          https_port: inside.ports.uds,
          nodes: [{ ...node, xmpp_port: impPort ?? inside.ports.imp }],
        },
      ],
      unity_connection: [
        {
          publisher: '127.0.0.1',
          https_port: inside.ports.voicemail,
          nodes: [{ address: '127.0.0.1', https_port: inside.ports.voicemail }],
        },
      ],
      http: opts.coreHttp ?? {},
    },
    'http test core',
  ) as CoreConfig;
  let core = await startCore(coreCfg, coreLog.log);
  const tunnelUp = () =>
    waitFor(
      'http tunnel up',
      () => (edge.status() as { http?: { tunnel: { sessions: number } } }).http?.tunnel.sessions === 1,
      15_000,
    );
  await tunnelUp();
  await waitFor(
    'token keys fetched',
    () =>
      (core.status() as { http: { authorization: { tokenKeys: number } } }).http.authorization.tokenKeys > 0
        ? true
        : undefined,
    10_000,
  );

  const agents: Agent[] = [];
  const client = (localAddress?: string) => {
    // undici binds the source address from the Client option, not from `connect` (which it overrides).
    const a = new Agent({ connect: { ca: ca.cert, servername: EDGE_NAME }, ...(localAddress ? { localAddress } : {}) });
    agents.push(a);
    return a;
  };
  const main = client();
  const httpsPort = edge.ports.https;
  if (httpsPort === undefined) throw new Error('the edge reported no https port');
  const base = `https://127.0.0.1:${httpsPort}`;
  const ports = { uds: inside.ports.uds, tftp: inside.ports.tftp, voicemail: inside.ports.voicemail };
  const scheme = { uds: 'https', tftp: 'http', voicemail: 'https' } as const;
  return {
    edge,
    get core() {
      return core;
    },
    inside,
    edgeLog,
    coreLog,
    ca: ca.cert,
    base,
    httpsPort,
    route(service, o = {}) {
      const t = b64(`${DOMAIN}/${scheme[service]}/127.0.0.1/${ports[service]}`, o.padded);
      return o.urlSafe ? t.replace(/\+/g, '-').replace(/\//g, '_') : t;
    },
    client,
    async get(path, headers = {}, dispatcher = main, method = 'GET', body) {
      const r = await request(base + path, {
        dispatcher,
        headers,
        method: method as 'GET',
        ...(body !== undefined ? { body } : {}),
      });
      return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
    },
    async stopCore() {
      await core.close();
    },
    async restartCore() {
      core = await startCore(coreCfg, coreLog.log);
      await tunnelUp();
    },
    async close() {
      await Promise.all(agents.map((a) => a.close()));
      await core.close();
      await edge.close();
      await inside.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
