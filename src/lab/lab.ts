import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildConfig, type CoreConfig, type EdgeConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { labPki } from './lab-pki.js';
import { hashPassword } from '../traversal/index.js';
import { startCore, startEdge, type RunningNode } from '../node/index.js';
import { startInsideServers, type InsideServers } from './inside-servers.js';
import { LAB_AXL_CREDENTIALS } from './axl.js';
import { startSimulatedClients, type SimulatedClients } from './simulated-clients.js';
import { startLabCalls } from './lab-calls.js';
import { LAB_SIP_USERS } from './call-control.js';
import { ClientMedia } from './client-media.js';
import { LabPhone } from './inside-phone.js';
import { LAB_ADDRESSES, LAB_ADMIN_PORTS } from './addresses.js';

export interface LabOptions {
  /** Where the lab keeps its CA, certificates and traversal password between runs. */
  dir: string;
  /** 'standard' uses Expressway's port numbers on loopback aliases; 'ephemeral' lets the OS pick (tests). */
  ports?: 'standard' | 'ephemeral';
  logLevel?: string;
  keepaliveS?: number;
  /** Simulated remote clients that sign in and register through the edge (default 3; 0 for none). */
  clients?: number;
  /**
   * The scheduled calls (default on when there are clients): the desk phone keeps an audio call up with the first
   * simulated user, the video endpoint a video call with the second (src/lab/lab-calls.ts).
   */
  deskPhone?: boolean;
  /**
   * Media port ranges (default 36000-59999 each, on each host's own alias): tests running labs side by side give
   * each its own, as a range cannot be port 0.
   */
  media?: Partial<Record<'edge' | 'core' | 'clients', { port_min: number; port_max: number }>>;
}

export interface Lab {
  edge: RunningNode;
  core: RunningNode;
  inside: InsideServers;
  clients: SimulatedClients;
  /** The simulated clients' media: what the far end of a call saw (its streams, a hold, the digits heard). */
  media: ClientMedia;
  /** The inside phones: `desk` (audio) and `room` (a video endpoint); each answers calls to its user. */
  phones: { desk: LabPhone; room: LabPhone };
  /** The scheduled calls, for the banner: who calls whom, audio or video (none when they are off). */
  calls: Array<{ from: string; to: string; kind: 'audio' | 'video' }>;
  /** The configurations the lab built, as a user would have written them. */
  configs: { edge: EdgeConfig; core: CoreConfig };
  close(): Promise<void>;
}

const LAB_DOMAIN = 'lab.example.com';

function traversalPassword(dir: string): string {
  const file = join(dir, 'traversal-password');
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** The lab's inside as core's configuration names it: one cluster on the inside servers' address. */
function labInside(p: InsideServers['ports']) {
  const node = { address: LAB_ADDRESSES.inside, https_port: p.uds, tftp_port: p.tftp, sip_port: p.callControlSip };
  return {
    domains: [{ name: LAB_DOMAIN, sip_registrations: true, im_presence: true }],
    unified_cm: [{ publisher: LAB_ADDRESSES.inside, https_port: p.uds, ...LAB_AXL_CREDENTIALS, nodes: [node] }],
    im_presence: [
      {
        publisher: LAB_ADDRESSES.inside,
        https_port: p.uds,
        ...LAB_AXL_CREDENTIALS,
        nodes: [{ ...node, xmpp_port: p.imp }],
      },
    ],
    unity_connection: [
      {
        publisher: LAB_ADDRESSES.inside,
        https_port: p.voicemail,
        nodes: [{ address: LAB_ADDRESSES.inside, https_port: p.voicemail }],
      },
    ],
  };
}

/** Core, edge and simulated inside servers in one process, on embedded defaults: nothing else needed. */
export async function startLab(opts: LabOptions): Promise<Lab> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const standard = (opts.ports ?? 'standard') === 'standard';
  const level = opts.logLevel ?? 'info';
  const pki = await labPki(join(dir, 'pki'));
  const edgeName = `edge.${LAB_DOMAIN}`;
  const coreName = `core.${LAB_DOMAIN}`;
  // The seeds want the domain itself in every edge certificate's SAN: an XMPP client checks the domain it signs in to.
  const edgeCert = await pki.node('edge', [edgeName, LAB_DOMAIN], [LAB_ADDRESSES.edge]);
  const coreCert = await pki.node('core', [coreName], [LAB_ADDRESSES.core]);
  const insideCert = await pki.node('inside', [`cucm.${LAB_DOMAIN}`], [LAB_ADDRESSES.inside]);
  const password = traversalPassword(dir);
  const keepalive_s = opts.keepaliveS ?? 15;

  const edgeConfig = buildConfig(
    {
      role: 'edge',
      name: 'edge1',
      log: { level },
      admin: { port: standard ? LAB_ADMIN_PORTS.edge : 0 },
      tls: { cert_file: edgeCert.certFile, key_file: edgeCert.keyFile, ca_file: pki.caFile },
      public: { address: LAB_ADDRESSES.edge, ...(standard ? {} : { sip_tls_port: 0, https_port: 0, xmpp_port: 0 }) },
      ...(opts.media?.edge ? { media: opts.media.edge } : {}),
      traversal: {
        address: LAB_ADDRESSES.edge,
        ...(standard ? {} : { sip_port: 0, http_tunnel_port: 0, xmpp_port: 0 }),
        tls_verify_subject_name: coreName,
        accounts: [{ username: 'traversal', password_hash: await hashPassword(password) }],
        keepalive_s,
      },
    },
    'lab edge configuration',
  ) as EdgeConfig;

  const logFor = (node: string): Logger => createLogger({ level, node });
  const edge = await startEdge(edgeConfig, logFor('edge1'));
  let core: RunningNode | undefined;
  let inside: InsideServers | undefined;
  let clientMedia: ClientMedia | undefined;
  try {
    inside = await startInsideServers({
      address: LAB_ADDRESSES.inside,
      ports: standard ? 'standard' : 'ephemeral',
      tls: { cert: readFileSync(insideCert.certFile, 'utf8'), key: readFileSync(insideCert.keyFile, 'utf8') },
      log: logFor('lab'),
      domain: LAB_DOMAIN,
    });
    const coreConfig = buildConfig(
      {
        role: 'core',
        name: 'core1',
        log: { level },
        admin: { port: standard ? LAB_ADMIN_PORTS.core : 0 },
        tls: { cert_file: coreCert.certFile, key_file: coreCert.keyFile, ca_file: pki.caFile },
        // Core's own alias for what it dials (the link, call control, the inside servers) and for its media: the
        // edge's (public = traversal address) binds 127.0.1.1 by itself.
        source_address: LAB_ADDRESSES.core,
        media: { address: LAB_ADDRESSES.core, ...opts.media?.core },
        traversal: {
          peers: [
            {
              address: LAB_ADDRESSES.edge,
              sip_port: edge.ports.traversalSip,
              http_tunnel_port: edge.ports.httpTunnel,
              xmpp_port: edge.ports.xmppTraversal,
            },
          ],
          username: 'traversal',
          password,
          keepalive_s,
          reconnect_max_s: 5,
        },
        ...labInside(inside.ports),
      },
      'lab core configuration',
    ) as CoreConfig;
    core = await startCore(coreConfig, logFor('core1'));
    const range = opts.media?.clients ?? { port_min: 36000, port_max: 59999 };
    clientMedia = await ClientMedia.start({
      address: LAB_ADDRESSES.internet,
      portMin: range.port_min,
      portMax: range.port_max,
      log: logFor('lab'),
    });
    const media = clientMedia;
    const clients = startSimulatedClients({
      answer: (req) => media.answer(req),
      edge: {
        host: LAB_ADDRESSES.edge,
        servername: edgeName,
        httpsPort: edge.ports.https!,
        sipTlsPort: edge.ports.sipTls!,
        xmppPort: edge.ports.xmpp!,
      },
      ca: readFileSync(pki.caFile, 'utf8'),
      domain: LAB_DOMAIN,
      count: opts.clients,
      log: logFor('lab'),
    });
    // The inside phones answer calls to desk@ and room@ the lab's domain; they also call the simulated users (who
    // pick up), so an audio and a video call show beside the registrations.
    const phone = (user: string, video: boolean) =>
      new LabPhone({
        user,
        domain: LAB_DOMAIN,
        address: LAB_ADDRESSES.inside,
        video,
        callControl: inside!.callControl,
        log: logFor('lab'),
      });
    const phones = { desk: phone('desk', false), room: phone('room', true) };
    const users = Object.keys(LAB_SIP_USERS).slice(0, opts.clients ?? Object.keys(LAB_SIP_USERS).length);
    const calls =
      users.length === 0 || opts.deskPhone === false
        ? []
        : [
            { phone: phones.desk, aor: `${users[0]}@${LAB_DOMAIN}`, kind: 'audio' as const },
            { phone: phones.room, aor: `${users[1 % users.length]}@${LAB_DOMAIN}`, kind: 'video' as const },
          ];
    const scheduled = calls.length ? startLabCalls({ calls, log: logFor('lab') }) : undefined;
    const started = { edge, core, inside, clients, media, phones };
    return {
      ...started,
      calls: calls.map((c) => ({ from: c.phone.aor, to: c.aor, kind: c.kind })),
      configs: { edge: edgeConfig, core: coreConfig },
      async close() {
        scheduled?.close();
        phones.desk.close();
        phones.room.close();
        started.clients.close();
        await started.media.close();
        await started.core.close();
        await started.edge.close();
        await started.inside.close();
      },
    };
  } catch (err) {
    await clientMedia?.close();
    await core?.close();
    await inside?.close();
    await edge.close();
    throw err;
  }
}
