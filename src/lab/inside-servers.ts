import type { Server as TcpServer, AddressInfo } from 'node:net';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { LabTokenIssuer } from './tokens.js';
import { labUdsHandler } from './uds.js';
import { labTftpHandler } from './tftp.js';
import { labVoicemailHandler } from './voicemail.js';
import { handleAxl, labCluster, type LabCluster } from './axl.js';
import type { Logger } from '../log/index.js';
import { CallControl, LAB_INSIDE_PHONE_USERS, LAB_SIP_USERS } from './call-control.js';
import { LabImp } from './imp.js';

/**
 * The simulated inside: call control (SIP on 5060), UDS on 8443, TFTP/config on 6970, voicemail on 443.
 * A skeleton that starts and stops with the lab; the SIP and HTTPS planes' issues give each server its protocol.
 */
export interface InsideServersOptions {
  address: string;
  /** 'standard' binds the real port numbers; 'ephemeral' lets the OS choose (tests). */
  ports: 'standard' | 'ephemeral';
  tls: { cert: string; key: string };
  log: Logger;
  /** The name clients and core use for these servers (default: the address). */
  host?: string;
  domain?: string;
}

export interface InsideServers {
  ports: { callControlSip: number; uds: number; tftp: number; voicemail: number; imp: number };
  /** IM and Presence's XMPP service (STARTTLS on 5222): tests see who is online and what was routed. */
  imp: LabImp;
  /** Call control's OAuth issuer: tests mint tokens (good, expired) with it. */
  tokens: LabTokenIssuer;
  /** Every HTTP request the inside servers received, as `server METHOD target` (tests prove what got through). */
  seen: string[];
  /** What the publisher tells discovery (AXL on the UDS port); tests change it, then refresh. */
  cluster: LabCluster;
  /** The lab registrar: tests send OPTIONS/MESSAGE to registered users with it. */
  callControl: CallControl;
  close(): Promise<void>;
}

const STANDARD = { callControlSip: 5060, uds: 8443, tftp: 6970, voicemail: 443, imp: 5222 } as const;

function listen(server: TcpServer | HttpsServer | HttpServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve((server.address() as AddressInfo).port));
  });
}

/** The publisher answers discovery's AXL requests on the same HTTPS port as UDS, as call control does. */
function withAxl(cluster: LabCluster, next: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!handleAxl(cluster, req, res)) next(req, res);
  };
}

export async function startInsideServers(opts: InsideServersOptions): Promise<InsideServers> {
  const log = opts.log.child({ lab: 'inside' });
  const port = (name: keyof typeof STANDARD) => (opts.ports === 'standard' ? STANDARD[name] : 0);
  const servers: Array<TcpServer | HttpsServer | HttpServer> = [];
  const host = opts.host ?? opts.address;
  const tokens = new LabTokenIssuer(`https://${host}`);
  const seen: string[] = [];
  const cluster = labCluster(host, (JSON.parse(tokens.jwks()) as { keys: Array<Record<string, unknown>> }).keys);
  const started: Partial<InsideServers['ports']> = {};
  let callControl: CallControl | undefined;
  let imp: LabImp | undefined;
  try {
    imp = await new LabImp({
      address: opts.address,
      port: port('imp'),
      tls: opts.tls,
      domain: opts.domain ?? 'lab.example.com',
      tokens,
      log,
    }).start();
    started.imp = imp.port;
    // Call control: the lab registrar and proxy (TCP 5060, TLS 5061 for a mixed-mode core).
    callControl = await new CallControl({
      address: opts.address,
      port: port('callControlSip'),
      tls: { ...opts.tls, port: opts.ports === 'standard' ? 5061 : 0 },
      users: { ...LAB_SIP_USERS, ...LAB_INSIDE_PHONE_USERS },
      log,
    }).start();
    started.callControlSip = callControl.ports.tcp;
    for (const n of cluster.nodes) n.sipPort = started.callControlSip;
    // UDS (and IM&P's SOAP login, and the OAuth issuer) and voicemail over HTTPS; TFTP files over plain HTTP.
    const handlers = {
      uds: withAxl(cluster, labUdsHandler({ host, httpsPort: () => started.uds ?? 0, issuer: tokens })),
      tftp: labTftpHandler({ callControlHost: host, domain: opts.domain ?? 'lab.example.com' }),
      voicemail: labVoicemailHandler(),
    };
    for (const name of ['uds', 'tftp', 'voicemail'] as const) {
      const handler = handlers[name];
      const counted = (req: IncomingMessage, res: ServerResponse) => {
        if (seen.length < 100_000) seen.push(`${name} ${req.method} ${req.url}`);
        handler(req, res);
      };
      const server =
        name === 'tftp'
          ? createHttpServer(counted)
          : createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, counted);
      servers.push(server);
      started[name] = await listen(server, port(name), opts.address);
    }
  } catch (err) {
    for (const s of servers) s.close();
    await callControl?.close();
    await imp?.close();
    throw err;
  }
  log.info({ address: opts.address, ports: started }, 'lab inside servers up');
  return {
    ports: started as InsideServers['ports'],
    tokens,
    seen,
    cluster,
    callControl,
    imp,
    close: async () => {
      await callControl.close();
      await imp.close();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
