// The SIP transports over real sockets: the edge's TLS listener answers RFC 5626 CRLF keepalives, holds to
// its connection limit and closes idle connections; the outbound pool reuses one connection per target and
// names the target when it cannot reach it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';
import { StreamSipConnection, SipConnectionPool, SipTlsListener } from '../../src/sip/transport/index.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';
import { freePort } from '../support/node-files.js';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { LISTEN_BACKLOG } from '../../src/util/listen.js';

let ca: string;
let listener: SipTlsListener;
const log = capturedLogger('edge');
const open: TLSSocket[] = [];

before(async () => {
  const authority = await CertificateAuthority.create({ commonName: 'sip transport test CA' });
  const cert = await authority.issue({
    commonName: 'edge.example.com',
    dnsNames: ['edge.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  ca = authority.cert;
  listener = new SipTlsListener({
    address: '127.0.0.1',
    port: 0,
    tls: cert,
    maxConnections: 2,
    limits: { idleTimeoutMs: 400, headerTimeoutMs: 0 },
    log: log.log,
    onMessage: () => {},
  });
  await listener.listen();
});
after(async () => {
  for (const s of open) s.destroy();
  await listener?.close();
});

function dial(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: listener.port, ca }, () => resolve(s));
    s.once('error', reject);
    open.push(s);
  });
}

const closed = (s: TLSSocket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

test('a CRLF CRLF keepalive is answered with CRLF (RFC 5626 §4.4.1)', async () => {
  const s = await dial();
  const pong = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString('latin1'))));
  s.write('\r\n\r\n');
  assert.equal(await pong, '\r\n');
  s.destroy();
  await waitFor('the listener to drop the connection', () => listener.connectionCount === 0);
});

test('beyond max_connections a new connection is closed and logged; the ones held stay', async () => {
  const [a, b] = [await dial(), await dial()];
  try {
    await waitFor('two connections held', () => listener.connectionCount === 2);
    // Refused at accept, before any handshake: the client sees its socket close; the log line follows it.
    const c = await dial().catch(() => null);
    if (c) await closed(c);
    await waitFor('the refusal to be logged', () =>
      log.lines().some((l) => l.msg === 'sip connection refused: connection limit'),
    );
    assert.equal(listener.connectionCount, 2);
    assert.ok(!a.destroyed && !b.destroyed);
  } finally {
    a.destroy();
    b.destroy();
  }
  await waitFor('the listener to drop both', () => listener.connectionCount === 0);
});

test('a connection with nothing to say is closed after the idle timeout, and logged', async () => {
  const s = await dial();
  await closed(s);
  await waitFor('the idle close to be logged', () =>
    log.lines().some((l) => l.msg === 'sip connection closed' && l.reason === 'idle timeout'),
  );
});

test('the outbound pool reuses one connection per target and reports an unreachable one', async () => {
  const accepted: Socket[] = [];
  const server: Server = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const pool = new SipConnectionPool({ onMessage: () => {} });
  try {
    const target = { transport: 'tcp' as const, host: '127.0.0.1', port };
    const [x, y] = await Promise.all([pool.get(target), pool.get(target)]);
    assert.equal(x, y, 'concurrent gets share one connect');
    assert.equal(await pool.get(target), x);
    assert.equal(pool.byId(x.id), x);
    x.close('test');
    const z = await pool.get(target);
    assert.notEqual(z, x, 'a closed connection is replaced');
    await waitFor('the server to see two connections', () => accepted.length === 2);
    const gone = await freePort();
    await assert.rejects(
      pool.get({ transport: 'tcp', host: '127.0.0.1', port: gone }),
      new RegExp(`cannot reach tcp:127\\.0\\.0\\.1:${gone}`),
    );
    await assert.rejects(pool.get({ transport: 'tls', host: '127.0.0.1', port }), /no TLS material/);
  } finally {
    pool.close();
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("the pool's CRLF keepalives keep a connection inside the peer's idle timeout", async () => {
  const peers: StreamSipConnection[] = [];
  // The far end closes anything idle for 300 ms, as call control or a firewall would.
  const server: Server = createServer((s) =>
    peers.push(new StreamSipConnection(s, 'tcp', { idleTimeoutMs: 300 }, () => {})),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const pool = new SipConnectionPool({ onMessage: () => {}, keepaliveMs: 100, limits: { idleTimeoutMs: 300 } });
  try {
    const conn = await pool.get({ transport: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    await new Promise((r) => setTimeout(r, 900));
    assert.ok(!conn.closed, `still open after three idle periods (${conn.closeReason})`);
    assert.ok(peers[0] && !peers[0].closed);
  } finally {
    pool.close();
    for (const p of peers) p.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('the TLS listener asks the kernel for a large accept backlog, so a reconnect storm is not dropped', async (t) => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  // For a listening socket ss shows the backlog in Send-Q; the kernel caps it at net.core.somaxconn.
  const out = execFileSync('ss', ['-ltnH', `sport = :${listener.port}`], { encoding: 'utf8' }).trim();
  if (!out) return t.skip('ss shows no listening socket (no /proc/net access)');
  const backlog = Number(out.split(/\s+/)[2]);
  assert.equal(backlog, Math.min(somaxconn, LISTEN_BACKLOG), `ss: ${out}`);
  assert.ok(backlog > 511, "more than Node's default of 511");
});

test('messages sent in one tick arrive whole and in order (one batched write)', async () => {
  const got: string[] = [];
  const peers: StreamSipConnection[] = [];
  const server: Server = createServer((s) =>
    peers.push(new StreamSipConnection(s, 'tcp', {}, (data) => got.push(data.toString('latin1')))),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const pool = new SipConnectionPool({ onMessage: () => {} });
  try {
    const conn = await pool.get({ transport: 'tcp', host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    const msg = (n: number) => `OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    for (let n = 1; n <= 50; n++) assert.equal(conn.send(msg(n)), true);
    await waitFor('all 50 messages', () => got.length === 50);
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => msg(i + 1)),
    );
    conn.close('test');
    assert.equal(conn.send(msg(51)), false, 'a closed connection refuses to send');
  } finally {
    pool.close();
    for (const p of peers) p.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
