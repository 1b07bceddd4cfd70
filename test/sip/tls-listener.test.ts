// The edge's client-facing TLS listener (native, native/src/sip_tls/) through its TypeScript face, over real TLS
// from Node's client: whole messages however the bytes arrive, replies on the same connection, the guards and
// their close reasons, and clear errors for a port in use or a bad certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';
import { SipTlsListener, type SipConnection } from '../../src/sip/transport/index.js';
import { EVENTS_PER_TURN } from '../../src/sip/transport/tls-listener.js';
import { capturedLogger, waitFor } from '../support/log-capture.js';

let ca: string;
let tls: { cert: string; key: string };
let listener: SipTlsListener;
const log = capturedLogger('edge');
const got: Array<{ text: string; conn: SipConnection }> = [];
const closedIds: Array<{ id: string; reason: string }> = [];
const sockets: Array<TLSSocket | Socket> = [];
let onEach: (() => void) | undefined;

const msg = (n: number, body = '') =>
  `OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: ${n} OPTIONS\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

before(async () => {
  const authority = await CertificateAuthority.create({ commonName: 'sip tls listener test CA' });
  tls = await authority.issue({
    commonName: 'edge.example.com',
    dnsNames: ['edge.example.com'],
    ipAddresses: ['127.0.0.1'],
  });
  ca = authority.cert;
  listener = new SipTlsListener({
    address: '127.0.0.1',
    port: 0,
    tls,
    maxConnections: 50,
    handshakeTimeoutMs: 400,
    threads: 2,
    limits: { headerTimeoutMs: 400, idleTimeoutMs: 0, maxHeaderBytes: 4096, maxBodyBytes: 8192 },
    log: log.log,
    onMessage: (data, conn) => {
      got.push({ text: data.toString('latin1'), conn });
      onEach?.();
    },
    onConnectionClosed: (conn) => closedIds.push({ id: conn.id, reason: conn.closeReason }),
  });
  await listener.listen();
});
after(async () => {
  for (const s of sockets) s.destroy();
  await listener?.close();
});

function dial(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: listener.port, ca, servername: 'edge.example.com' }, () =>
      resolve(s),
    );
    s.once('error', reject);
    sockets.push(s);
  });
}

const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
const readText = (s: TLSSocket, until: (text: string) => boolean) =>
  new Promise<string>((resolve) => {
    let text = '';
    const on = (d: Buffer) => {
      text += d.toString('latin1');
      if (until(text)) {
        s.off('data', on);
        resolve(text);
      }
    };
    s.on('data', on);
  });

test('messages arrive whole however the bytes are cut, and a reply goes back on the same connection', async () => {
  got.length = 0;
  const s = await dial();
  s.write(msg(1) + msg(2, 'v=0\r\n'));
  const third = Buffer.from(msg(3, 'x'.repeat(3000)));
  for (let i = 0; i < third.length; i += 700) {
    s.write(third.subarray(i, i + 700));
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor('three messages', () => got.length === 3);
  assert.deepEqual(
    got.map((g) => g.text),
    [msg(1), msg(2, 'v=0\r\n'), msg(3, 'x'.repeat(3000))],
  );
  const conn = got[0]!.conn;
  assert.equal(conn.transport, 'tls');
  assert.equal(conn.remote, `127.0.0.1:${s.localPort}`);
  assert.equal(conn.localPort, listener.port);
  assert.equal(listener.connection(conn.id), conn);
  const reply = readText(s, (t) => t.endsWith('\r\n\r\n') && t.split('SIP/2.0 200').length === 3);
  assert.equal(conn.send('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'), true);
  assert.equal(conn.send(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n')), true);
  assert.equal(await reply, 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'.repeat(2));
  s.destroy();
  await waitFor('the peer close to reach JS', () =>
    closedIds.some((c) => c.id === conn.id && c.reason === 'connection closed'),
  );
  assert.equal(conn.closed, true);
  assert.equal(conn.send(msg(4)), false, 'a closed connection refuses to send');
  assert.equal(listener.connection(conn.id), undefined);
});

test('a wave of messages is handled a bounded number per turn, in order, so the loop keeps turning', async () => {
  got.length = 0;
  const s = await dial();
  const N = 3 * EVENTS_PER_TURN + 10;
  let wave = '';
  for (let i = 1; i <= N; i++) wave += msg(i);
  s.write(wave);
  // JavaScript busy meanwhile: the network thread reads and frames the whole wave, which then arrives as one batch.
  const until = Date.now() + 300;
  while (Date.now() < until);
  const perTurn: number[] = [];
  let turn = 0;
  onEach = () => {
    // Microtasks run as soon as the code that handles events returns to the loop: one run per turn.
    if (turn++ === 0)
      queueMicrotask(() => {
        perTurn.push(turn);
        turn = 0;
      });
  };
  try {
    await waitFor('the whole wave', () => got.length === N);
  } finally {
    onEach = undefined;
  }
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    got.map((g) => g.text),
    Array.from({ length: N }, (_, i) => msg(i + 1)),
    'every message, in order',
  );
  // Not vacuous: a full turn's worth was waiting at least once.
  assert.equal(Math.max(...perTurn), EVENTS_PER_TURN, `per turn: ${perTurn.join(', ')}`);
  assert.ok(perTurn.length >= 4, `per turn: ${perTurn.join(', ')}`);
  s.destroy();
});

test('a close from JS carries its reason, and the client sees the connection end', async () => {
  got.length = 0;
  const s = await dial();
  s.write(msg(1));
  await waitFor('one message', () => got.length === 1);
  const conn = got[0]!.conn;
  let heard = '';
  conn.onClose((r) => (heard = r));
  conn.close('test says goodbye');
  assert.equal(heard, 'test says goodbye');
  assert.equal(conn.closed, true);
  await closed(s);
  assert.ok(closedIds.some((c) => c.id === conn.id && c.reason === 'test says goodbye'));
});

test('a message left unfinished is cut off after the header timeout (slowloris), and logged', async () => {
  const s = await dial();
  s.write('REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS x;branch=z9hG4bK1\r\n');
  await closed(s);
  await waitFor('the header-timeout close to be logged', () =>
    log
      .lines()
      .some(
        (l) =>
          l.msg === 'sip connection closed' &&
          /message incomplete after 400 ms \(header timeout\)/.test(String(l.reason)),
      ),
  );
});

test('an unframeable stream (no Content-Length, headers past the limit) is closed with the reason', async () => {
  const a = await dial();
  a.write('OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n');
  await closed(a);
  const b = await dial();
  b.write(`OPTIONS sip:x@example.com SIP/2.0\r\nX-Long: ${'a'.repeat(5000)}`);
  await closed(b);
  await waitFor('both closes logged', () => {
    const reasons = log
      .lines()
      .filter((l) => l.msg === 'sip connection closed')
      .map((l) => String(l.reason));
    return (
      reasons.includes('unframeable stream: 400 Missing Content-Length on a stream transport') &&
      reasons.includes('unframeable stream: 513 Message Too Large (headers)')
    );
  });
});

test('a TCP connection that never starts its TLS handshake is closed after the handshake timeout', async () => {
  const raw = tcpConnect({ host: '127.0.0.1', port: listener.port });
  sockets.push(raw);
  raw.on('error', () => {});
  const started = Date.now();
  await closed(raw);
  assert.ok(Date.now() - started >= 300, 'not before the timeout');
  assert.equal(listener.stats()!.handshaking, 0);
});

test('a client that starts its handshake and stalls is closed after the handshake timeout too', async () => {
  const raw = tcpConnect({ host: '127.0.0.1', port: listener.port });
  sockets.push(raw);
  raw.on('error', () => {});
  // A TLS record header announcing a ClientHello of 128 bytes, and then nothing: read, so nothing is left unread.
  raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x80, 0x01]));
  const started = Date.now();
  await closed(raw);
  assert.ok(Date.now() - started >= 300, 'not before the timeout');
});

test('a second listener on the same port, and a key that does not match, fail with the cause', async () => {
  const again = new SipTlsListener({
    address: '127.0.0.1',
    port: listener.port,
    tls,
    maxConnections: 1,
    log: log.log,
    onMessage: () => {},
  });
  await assert.rejects(again.listen(), /in use/i);
  const other = await CertificateAuthority.create({ commonName: 'another CA' });
  const mismatched = new SipTlsListener({
    address: '127.0.0.1',
    port: 0,
    tls: { cert: tls.cert, key: other.key },
    maxConnections: 1,
    log: log.log,
    onMessage: () => {},
  });
  await assert.rejects(mismatched.listen(), /key/i);
  // A port held by some other program is refused the same way (no SO_REUSEPORT sharing).
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const taken = new SipTlsListener({
    address: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    tls,
    maxConnections: 1,
    log: log.log,
    onMessage: () => {},
  });
  await assert.rejects(taken.listen(), /in use/i);
  await new Promise<void>((r) => server.close(() => r()));
});

test('the listener counts what it did', async () => {
  const st = listener.stats()!;
  assert.ok(st.accepted >= 6, JSON.stringify(st));
  assert.ok(st.messagesIn >= 4 && st.messagesOut >= 2 && st.handshakeFailures >= 1, JSON.stringify(st));
  assert.equal(st.connections, listener.connectionCount);
});
