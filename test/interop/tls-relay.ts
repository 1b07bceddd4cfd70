import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * Debian's sipp has no TLS, and the edge only speaks TLS to clients: this relay gives each TCP connection
 * sipp opens its own TLS connection to the edge (verified against the edge's CA, as a client would) and
 * copies bytes both ways. Nothing in the product listens on plain TCP for clients, not even for tests.
 */
export interface TlsRelay {
  port: number;
  /** TLS connections opened to the edge so far. */
  opened: number;
  close(): Promise<void>;
}

export async function startTlsRelay(opts: {
  host: string;
  port: number;
  ca: string;
  servername?: string;
}): Promise<TlsRelay> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const state = { opened: 0 };
  const server = createServer((plain) => {
    track(plain);
    // Hold what sipp sends until the TLS handshake is done, then stream.
    plain.pause();
    const secure = tlsConnect({ host: opts.host, port: opts.port, ca: opts.ca, servername: opts.servername }, () => {
      state.opened++;
      plain.pipe(secure);
      secure.pipe(plain);
      plain.resume();
    });
    track(secure);
    const end = () => {
      plain.destroy();
      secure.destroy();
    };
    plain.once('error', end).once('close', end);
    secure.once('error', end).once('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get opened() {
      return state.opened;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
