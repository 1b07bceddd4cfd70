// Listening sockets for many clients. Node's default accept backlog (511) overflows when thousands of clients
// reconnect at once (an edge restart): the kernel drops their SYNs and they wait out SYN retries (1, 3, 7, 15 s)
// while the process is idle. The kernel caps what we ask for at net.core.somaxconn (4096 on Debian since 5.4).
import type { AddressInfo, Server } from 'node:net';

export const LISTEN_BACKLOG = 65_535;

/** Listens with a large backlog; resolves with the bound port, rejects with the bind error (EADDRINUSE...). */
export function listenOn(server: Server, port: number, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: address, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
