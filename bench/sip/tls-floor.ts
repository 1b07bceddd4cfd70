// What one idle TLS connection costs a bare Node tls.Server (no SIP, no framing, one 'data' listener), with a
// certificate of the same kind as the edge's: the floor under the edge's memory per client, since every
// byte of it is Node's and OpenSSL's. Measured in a child process so its RSS holds nothing else.
import { fork, type ChildProcess } from 'node:child_process';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';

const CHILD_FLAG = 'bench-sip-tls-floor-child';

type Reply = { port: number } | { rss: number };

if (process.argv[2] === CHILD_FLAG) {
  const { cert, key } = JSON.parse(process.argv[3]!) as { cert: string; key: string };
  const server = createServer({ cert, key }, (s) => {
    s.on('error', () => {});
    s.on('data', () => {});
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
    process.send!({ port: (server.address() as AddressInfo).port }),
  );
  // Each request for a figure waits a moment so the handshakes' garbage can be collected first.
  process.on('message', () => {
    (globalThis as { gc?: () => void }).gc?.();
    setTimeout(() => process.send!({ rss: process.memoryUsage().rss }), 300);
  });
  process.on('disconnect', () => process.exit(0));
}

/** KB of RSS per idle TLS connection held by a bare Node tls.Server, over `count` connections. */
export async function tlsFloorKb(count: number): Promise<number> {
  const ca = await CertificateAuthority.create({ commonName: 'bench:sip TLS floor CA' });
  const leaf = await ca.issue({ commonName: 'floor.example.com', ipAddresses: ['127.0.0.1'] });
  const child: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    [CHILD_FLAG, JSON.stringify({ cert: leaf.cert, key: leaf.key })],
    { execArgv: ['--expose-gc'] },
  );
  const reply = () =>
    new Promise<Reply>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Reply));
      child.once('exit', (code) => reject(new Error(`TLS floor server exited (${code})`)));
    });
  const sockets: TLSSocket[] = [];
  try {
    const { port } = (await reply()) as { port: number };
    child.send('rss');
    const before = ((await reply()) as { rss: number }).rss;
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from(
          { length: Math.min(100, count - i) },
          () =>
            new Promise<void>((resolve, reject) => {
              const s = connect({ port, host: '127.0.0.1', ca: ca.cert }, () => {
                s.write('\r\n\r\n');
                resolve();
              });
              s.once('error', reject);
              sockets.push(s);
            }),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    child.send('rss');
    const after = ((await reply()) as { rss: number }).rss;
    return (after - before) / 1024 / count;
  } finally {
    for (const s of sockets) s.destroy();
    child.disconnect();
    child.kill();
  }
}
