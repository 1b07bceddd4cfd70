import { createServer as createTcpServer, type Server as TcpServer, type AddressInfo } from 'node:net';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Logger } from '../log/index.js';

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
}

export interface InsideServers {
  ports: { callControlSip: number; uds: number; tftp: number; voicemail: number };
  close(): Promise<void>;
}

const STANDARD = { callControlSip: 5060, uds: 8443, tftp: 6970, voicemail: 443 } as const;

function listen(server: TcpServer | HttpsServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startInsideServers(opts: InsideServersOptions): Promise<InsideServers> {
  const log = opts.log.child({ lab: 'inside' });
  const port = (name: keyof typeof STANDARD) => (opts.ports === 'standard' ? STANDARD[name] : 0);
  const servers: Array<TcpServer | HttpsServer> = [];
  const started: Partial<InsideServers['ports']> = {};
  try {
    // Call control: answers every SIP request 501 until the registrar lands (issue: SIP stack).
    const sip = createTcpServer((sock) => {
      sock.on('error', () => {});
      sock.setTimeout(30_000, () => sock.destroy());
    });
    servers.push(sip);
    started.callControlSip = await listen(sip, port('callControlSip'), opts.address);
    for (const name of ['uds', 'tftp', 'voicemail'] as const) {
      const https = createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`lab ${name}: ${req.method} ${req.url} not provided yet\n`);
      });
      servers.push(https);
      started[name] = await listen(https, port(name), opts.address);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  log.info({ address: opts.address, ports: started }, 'lab inside servers up');
  return {
    ports: started as InsideServers['ports'],
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
