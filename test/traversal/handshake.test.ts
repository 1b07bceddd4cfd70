import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../support/log-capture.js';
import { EDGE_ADDRESS, coreClient, pki, startEdgeServer, tlsOf } from './pair.js';

/** A hand-driven core: real mutual TLS, then whatever bytes the test wants to send. */
async function rawCore(port: number): Promise<TLSSocket> {
  const { ca, core } = await pki();
  const s = connect({ host: EDGE_ADDRESS, port, cert: core.cert, key: core.key, ca: ca.cert });
  await once(s, 'secureConnect');
  return s;
}

async function answer(s: TLSSocket): Promise<{ reply: Record<string, unknown> | undefined; closed: boolean }> {
  let text = '';
  s.on('data', (d) => (text += d));
  await once(s, 'close');
  const line = text.split('\n')[0];
  return { reply: line ? (JSON.parse(line) as Record<string, unknown>) : undefined, closed: true };
}

test('bad handshakes are refused with a named reason and the connection closed', async (t) => {
  const { ca, edge } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  t.after(() => e.server.close());

  const cases: Array<[string, string | Buffer, number, RegExp]> = [
    ['garbage', 'hello there\n', e.ports.sip, /not JSON/],
    ['wrong protocol', '{"mra":"other/9"}\n', e.ports.sip, /expected protocol/],
    [
      'a core of another release',
      '{"mra":"mra-traversal/1","channel":"sip","username":"traversal","password":"right-password","node":"c"}\n',
      e.ports.sip,
      /core speaks mra-traversal\/1, this edge mra-traversal\/2: edge and core must run the same release/,
    ],
    [
      'unknown channel',
      '{"mra":"mra-traversal/2","channel":"ftp","username":"traversal","password":"x","node":"c"}\n',
      e.ports.sip,
      /unknown channel/,
    ],
    [
      'channel on the wrong port',
      '{"mra":"mra-traversal/2","channel":"xmpp","username":"traversal","password":"right-password","node":"c"}\n',
      e.ports.sip,
      /carries sip channels/,
    ],
    [
      'missing field',
      '{"mra":"mra-traversal/2","channel":"sip","username":"traversal","node":"c"}\n',
      e.ports.sip,
      /password missing/,
    ],
    ['an endless line', Buffer.alloc(5000, 'a'), e.ports.http, /too long/],
  ];
  for (const [name, bytes, port, reason] of cases) {
    const s = await rawCore(port);
    s.write(bytes);
    const { reply } = await answer(s);
    assert.equal(reply?.ok, false, name);
    assert.match(String(reply?.reason), reason, name);
  }
  assert.equal(
    e.lines().filter((l) => l.msg === 'traversal connection refused').length,
    cases.length,
    'each refusal is logged',
  );
  assert.equal(e.server.status().cores.length, 0, 'no channel came of any of them');
});

test('a core that says nothing is cut off after the handshake timeout', async (t) => {
  const { ca, edge } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  t.after(() => e.server.close());
  const s = await rawCore(e.ports.sip);
  const started = Date.now();
  const { reply } = await answer(s);
  assert.equal(reply, undefined, 'no answer to silence');
  assert.ok(Date.now() - started >= 1900, 'not before the 2 s handshake timeout');
});

test('a core that reaches an edge of another release reports both versions and keeps retrying', async (t) => {
  const { ca, edge, core } = await pki();
  // An edge of the release before: it answers every hello with its own version's refusal.
  const old = createServer({ cert: edge.cert, key: edge.key, ca: ca.cert, requestCert: true }, (s) => {
    s.once('data', () =>
      s.end('{"mra":"mra-traversal/1","ok":false,"error":"protocol","reason":"expected protocol mra-traversal/1"}\n'),
    );
    s.on('error', () => {});
  });
  old.listen(0, EDGE_ADDRESS);
  await once(old, 'listening');
  t.after(() => old.close());
  const port = (old.address() as AddressInfo).port;
  const c = coreClient({
    tls: tlsOf(core, ca.cert),
    peers: [{ address: EDGE_ADDRESS, ports: { sip: port, http: port, xmpp: port } }],
  });
  t.after(() => c.client.close());
  c.client.start();
  await waitFor('core reports the version mismatch', () =>
    /the edge speaks mra-traversal\/1, this core mra-traversal\/2: edge and core must run the same release/.test(
      c.client.status().lastError ?? '',
    ),
  );
  assert.notEqual(c.client.status().state, 'up');
  const before = c.client.status().failedAttempts;
  await waitFor('another attempt', () => c.client.status().failedAttempts > before);
});

test('a client with no certificate is refused in the TLS handshake itself: it never reaches the hello parser; the edge logs, counts and keeps the reason', async (t) => {
  const { ca, edge } = await pki();
  const e = await startEdgeServer({ tls: tlsOf(edge, ca.cert) });
  t.after(() => e.server.close());
  const s = connect({ host: EDGE_ADDRESS, port: e.ports.sip, ca: ca.cert, servername: 'edge.example.com' });
  s.on('secureConnect', () =>
    s.write(
      '{"mra":"mra-traversal/2","channel":"sip","username":"traversal","password":"right-password","node":"x"}\n',
    ),
  );
  let data = '';
  s.on('data', (d) => (data += d));
  const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'TLS says no: a certificate is required');
  assert.equal(data, '', 'no line of the link handshake was ever answered');
  await waitFor('the refusal in the edge log', () => e.lines().some((l) => l.msg === 'traversal connection refused'));
  const line = e.lines().find((l) => l.msg === 'traversal connection refused')!;
  assert.equal(line.refusal, 'certificate');
  assert.match(String(line.reason), /presented no client certificate: refused in the TLS handshake/);
  const st = e.server.status();
  assert.equal(st.refused.certificate, 1);
  assert.match(st.lastError ?? '', /from 127\.0\.0\.1:\d+: presented no client certificate/);
  assert.equal(st.cores.length, 0);
});
