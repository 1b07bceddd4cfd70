// A TCP relay standing in for the network between core and edge, so a test can cut the traversal link
// (every connection reset, new ones refused) and restore it, with both nodes still running.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface LinkRelay {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startLinkRelay(target: { host: string; port: number }): Promise<LinkRelay> {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((inbound) => {
    inbound.on('error', () => {});
    if (down) return void inbound.destroy();
    const outbound = connect(target.port, target.host);
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
