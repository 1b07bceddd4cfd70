import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';
import { MuxSession, type MuxStream } from '../../src/traversal/tunnel/mux-session.js';
import { MuxDuplex } from '../../src/traversal/tunnel/mux-duplex.js';
import { END, FrameType, STREAM_WINDOW, frame, jsonFrame } from '../../src/traversal/tunnel/mux-frames.js';

// The tunnel's framing on a real TLS connection, core's end serving and the edge's end opening streams, as the
// traversal channel hands them over: windows per stream, early data, resets and the tunnel's loss.
let server: Server;
let port = 0;
let ca = '';
let onCoreStream: (s: MuxStream, head: Record<string, unknown>) => void = () => {};
const coreSockets: TLSSocket[] = [];

before(async () => {
  const authority = await CertificateAuthority.create({ commonName: 'mux test CA' });
  const c = await authority.issue({ commonName: 'core.test', dnsNames: ['core.test'], ipAddresses: ['127.0.0.1'] });
  ca = authority.cert;
  server = createServer({ cert: c.cert, key: c.key }, (s) => {
    coreSockets.push(s);
    new MuxSession(s, { role: 'core', maxStreams: 50, onStream: (st, head) => onCoreStream(st, head) });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(() => {
  for (const s of coreSockets) s.destroy();
  server.close();
});

async function edge(): Promise<MuxSession> {
  const s = connect({ host: '127.0.0.1', port, ca, servername: 'core.test' });
  await once(s, 'secureConnect');
  const session = new MuxSession(s, { role: 'edge' });
  await new Promise((r) => setTimeout(r, 20)); // core's settings arrive first
  return session;
}
const waitFor = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('requests and answers: a body sent with the head is held until core listens, then whole', async () => {
  onCoreStream = (st, head) => {
    // Core decides first, then reads the body (as the proxy does after its checks).
    setTimeout(() => {
      const chunks: Buffer[] = [];
      st.listen({
        data: (c, end) => {
          chunks.push(c);
          if (end) st.sendHead({ s: 200, h: { got: String(Buffer.concat(chunks).length), path: head.p } }, true);
        },
      });
    }, 30);
  };
  const session = await edge();
  const body = Buffer.alloc(STREAM_WINDOW * 3, 7); // three windows: sent as core credits it
  const answers = await Promise.all(
    [0, 1, 2].map(
      (i) =>
        new Promise<Record<string, unknown>>((resolve) => {
          const st = session.open({ m: 'POST', p: `/r${i}`, h: {} }, false, { head: (h) => resolve(h) })!;
          st.sendData(body, true);
        }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.h),
    [0, 1, 2].map((i) => ({ got: String(body.length), path: `/r${i}` })),
  );
  await waitFor(() => session.size === 0);
  session.close();
});

test('a stream whose reader stalls holds only its own window; the others go on', async () => {
  const big = Buffer.alloc(4 * STREAM_WINDOW, 1);
  onCoreStream = (st, head) => {
    st.listen({});
    if (head.p === '/stalled') {
      const d = new MuxDuplex(st);
      d.write(big);
      d.end();
    } else {
      st.sendHead({ s: 200, h: {} }, false);
      st.sendData(Buffer.from('small'), true);
    }
  };
  const session = await edge();
  let stalledGot = 0;
  const stalled = session.open({ m: 'GET', p: '/stalled', h: {} }, true, { data: (c) => (stalledGot += c.length) })!;
  stalled.pause(); // the client behind it reads nothing
  await waitFor(() => stalledGot >= STREAM_WINDOW);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stalledGot, STREAM_WINDOW, 'no more than its window while stalled');
  const t0 = Date.now();
  const got = await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        new Promise<string>((resolve) =>
          session.open({ m: 'GET', p: '/x', h: {} }, true, { data: (c, end) => end && resolve(c.toString()) }),
        ),
    ),
  );
  assert.deepEqual(new Set(got), new Set(['small']));
  assert.ok(Date.now() - t0 < 1000);
  stalled.resume();
  await waitFor(() => stalledGot === big.length);
  session.close();
});

test('resets cross both ways; the tunnel going resets every open stream; core refuses streams beyond its limit', async () => {
  let coreReset = 0;
  const held: MuxStream[] = [];
  onCoreStream = (st) => {
    held.push(st);
    st.listen({ reset: () => coreReset++ });
  };
  const session = await edge();
  const a = session.open({ m: 'GET', p: '/a', h: {} }, true, {})!;
  await waitFor(() => held.length === 1);
  a.reset();
  await waitFor(() => coreReset === 1);
  let edgeReset = 0;
  session.open({ m: 'GET', p: '/b', h: {} }, true, { reset: () => edgeReset++ });
  await waitFor(() => held.length === 2);
  held[1]!.reset();
  await waitFor(() => edgeReset === 1);

  // The limit core announced (50): the 51st concurrent stream is not opened.
  const resets: number[] = [];
  for (let i = 0; i < 50; i++) session.open({ m: 'GET', p: '/c', h: {} }, true, { reset: () => resets.push(i) });
  assert.equal(session.open({ m: 'GET', p: '/c', h: {} }, true, {}), undefined);
  await waitFor(() => held.length === 52);
  coreSockets.at(-1)!.destroy();
  await waitFor(() => resets.length === 50);
  assert.ok(session.closed);
});

test("a peer sending beyond a stream's window is cut off", async () => {
  onCoreStream = (st) => {
    st.listen({ data: () => {} });
    st.pause(); // core's reader is full: it credits nothing back
  };
  const session = await edge();
  const st = session.open({ m: 'POST', p: '/w', h: {} }, false, {})!;
  await new Promise((r) => setImmediate(r)); // the head leaves first (frames go out once per tick)
  // Forged frames straight on the socket: the window is not the sender's to ignore.
  const chunk = Buffer.alloc(60_000);
  for (let sent = 0; sent <= STREAM_WINDOW * 2; sent += chunk.length)
    session.socket.write(frame(FrameType.Data, 0, st.id, chunk));
  await waitFor(() => session.closed);
});

test('a session built with a smaller window (the xmpp tunnel) holds that much of a stalled stream, then the rest', async (t) => {
  const WINDOW = 64 * 1024;
  const authority = await CertificateAuthority.create({ commonName: 'mux window CA' });
  const c = await authority.issue({ commonName: 'core.test', dnsNames: ['core.test'], ipAddresses: ['127.0.0.1'] });
  const big = Buffer.alloc(5 * WINDOW, 3);
  const small = createServer({ cert: c.cert, key: c.key }, (s) => {
    new MuxSession(s, {
      role: 'core',
      streamWindow: WINDOW,
      onStream: (st) => {
        st.listen({});
        const d = new MuxDuplex(st);
        d.write(big);
        d.end();
      },
    });
  });
  small.listen(0, '127.0.0.1');
  await once(small, 'listening');
  t.after(() => small.close());
  const s = connect({
    host: '127.0.0.1',
    port: (small.address() as AddressInfo).port,
    ca: authority.cert,
    servername: 'core.test',
  });
  await once(s, 'secureConnect');
  const session = new MuxSession(s, { role: 'edge', streamWindow: WINDOW });
  t.after(() => session.close());
  let got = 0;
  let ended = false;
  const st = session.open({ m: 'GET', p: '/', h: {} }, true, {
    data: (chunk, end) => ((got += chunk.length), (ended ||= end)),
  })!;
  st.pause();
  await waitFor(() => got >= WINDOW);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got, WINDOW, 'one window while its reader is paused');
  st.resume();
  await waitFor(() => ended);
  assert.equal(got, big.length, 'all of it once the reader goes on');
});

test('stream ids start again at 1 after 2^32-1, and core takes that wrap but not an id out of order', async () => {
  onCoreStream = (st, head) => {
    st.listen({});
    st.sendHead({ s: 200, h: { path: String(head.p) } }, true);
  };
  const s = connect({ host: '127.0.0.1', port, ca, servername: 'core.test' });
  await once(s, 'secureConnect');
  // As a tunnel is after about 2^31 streams (days of a busy one).
  const session = new MuxSession(s, { role: 'edge', firstStreamId: 0xfffffffb });
  await new Promise((r) => setTimeout(r, 20));
  const ids: number[] = [];
  const answers: unknown[] = [];
  for (const p of ['/a', '/b', '/c', '/d']) {
    answers.push(
      await new Promise((resolve) => {
        const st = session.open({ m: 'GET', p, h: {} }, true, {
          head: (h) => resolve((h.h as Record<string, string>).path),
        })!;
        ids.push(st.id);
      }),
    );
  }
  assert.deepEqual(ids, [0xfffffffb, 0xfffffffd, 0xffffffff, 1]);
  assert.deepEqual(answers, ['/a', '/b', '/c', '/d']);
  assert.ok(!session.closed);
  // After the wrap, an id at or below the last one is a broken peer again.
  session.socket.write(jsonFrame(FrameType.Head, END, 1, { m: 'GET', p: '/again', h: {} }));
  await waitFor(() => session.closed);
});
