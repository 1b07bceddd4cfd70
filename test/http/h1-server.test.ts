import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type TLSSocket } from 'node:tls';
import { CertificateAuthority } from '../../src/certs/index.js';
import { H1Server } from '../../src/http/h1-server.js';
import { listenOn } from '../../src/util/listen.js';
import { capturedLogger } from '../support/log-capture.js';

// The edge's own HTTP/1.1 on real TLS sockets, against a handler that echoes what it was given: framing,
// keep-alive and pipelining, and every refusal the edge relies on before a request may go inward.
let tls: Server;
let h1: H1Server;
let port = 0;
let ca = '';

before(async () => {
  const authority = await CertificateAuthority.create({ commonName: 'h1 test CA' });
  const c = await authority.issue({ commonName: 'edge.test', dnsNames: ['edge.test'], ipAddresses: ['127.0.0.1'] });
  ca = authority.cert;
  h1 = new H1Server(
    {
      maxHeaderBytes: 2048,
      maxBodyBytes: 1000,
      maxRequestsPerConnectionPerS: 20,
      headerTimeoutMs: 400,
      idleTimeoutMs: 5000,
    },
    (req, res, body) => {
      const text = `${req.method} ${req.url} ${body.length} ${body.toString('latin1').slice(0, 20)} cookie=${req.headers.cookie ?? ''}`;
      if (req.url === '/stream') {
        res.writeHead(200, { 'x-kind': 'streamed' });
        res.write(Buffer.from('part one,'));
        return void setTimeout(() => res.end(Buffer.from('part two')), 20);
      }
      if (req.url === '/slow') return void setTimeout(() => (res.writeHead(200, {}), res.end(text)), 50);
      if (req.url === '/dated')
        return void (res.writeHead(200, { Date: 'Tue, 01 Jan 2030 00:00:00 GMT' }), res.end(text));
      res.writeHead(200, { 'content-type': 'text/plain', 'x-bad': 'a\r\nx-injected: 1' });
      res.end(text);
    },
    capturedLogger().log,
  );
  tls = createServer({ cert: c.cert, key: c.key }, (s) => h1.take(s));
  port = await listenOn(tls, 0, '127.0.0.1');
});

after(() => {
  h1.close();
  tls.close();
});

/** Writes bytes (all at once, or piece by piece) and collects what comes back until the close or the wait ends. */
async function exchange(parts: string[], waitMs = 600): Promise<{ text: string; closed: boolean }> {
  const s: TLSSocket = connect({ host: '127.0.0.1', port, ca, servername: 'edge.test' });
  s.on('error', () => {});
  await once(s, 'secureConnect');
  let text = '';
  let closed = false;
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('close', () => (closed = true));
  for (const p of parts) {
    s.write(p);
    await new Promise((r) => setTimeout(r, 10));
  }
  const end = Date.now() + waitMs;
  while (!closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  s.destroy();
  return { text, closed };
}
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

test('keep-alive and pipelining: requests in one write are answered in order on the one connection', async () => {
  const r = await exchange([
    'GET /slow HTTP/1.1\r\nHost: e\r\n\r\nGET /b HTTP/1.1\r\nHost: e\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n',
  ]);
  assert.deepEqual(statuses(r.text), [200, 200]);
  assert.ok(r.text.indexOf('GET /slow') < r.text.indexOf('GET /b'), r.text);
  assert.match(r.text, /cookie=a=1; b=2/);
  assert.ok(!r.closed, 'kept alive');
  assert.doesNotMatch(r.text, /x-injected/i, 'a header value with CR LF is not written');
});

test('bodies: by length (split across writes) and chunked with a trailer, both whole before the handler', async () => {
  let r = await exchange(['POST /a HTTP/1.1\r\nHost: e\r\nContent-Length: 10\r\n\r\nhello', ' you!']);
  assert.match(r.text, /POST \/a 10 hello you!/);
  r = await exchange([
    'POST /c HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    '3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: e\r\n\r\n',
  ]);
  assert.match(r.text, /POST \/c 8 helloabc/);
  assert.match(r.text, /GET \/after 0/, 'the request after the chunked body is parsed');
  r = await exchange(['POST /e HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n', 'abc']);
  assert.deepEqual(statuses(r.text), [100, 200]);
});

test('refusals: smuggling, duplicate or bad framing, no Host, oversize head and body, rate', async () => {
  const cases: Array<[string, number]> = [
    [
      'POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: e\r\n\r\n',
      400,
    ],
    ['POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na', 400],
    ['POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ['POST / HTTP/1.1\r\nHost: e\r\nContent-Length: -1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: e\r\nX-A: a\rX-B: b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: e\r\n folded\r\n\r\n', 400],
    ['GET http://x/ HTTP/1.1\r\nHost: e\r\n\r\n', 400],
    [`GET / HTTP/1.1\r\nHost: e\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`, 431],
    ['POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 1001\r\n\r\n', 413],
    [
      `POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n${`3e8\r\n${'x'.repeat(1000)}\r\n`}1\r\nx\r\n0\r\n\r\n`,
      413,
    ],
    ['POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: e\r\nExpect: something\r\n\r\n', 417],
  ];
  for (const [bytes, status] of cases) {
    const r = await exchange([bytes]);
    assert.deepEqual(statuses(r.text), [status], `${JSON.stringify(bytes.slice(0, 80))}: ${r.text}`);
    assert.ok(r.closed, 'the connection is closed after a refusal');
  }
  // The limit counts per calendar second: a burst that straddles a second's end may get twice the limit through.
  const r = await exchange(['GET / HTTP/1.1\r\nHost: e\r\n\r\n'.repeat(61)], 3000);
  const got = statuses(r.text);
  assert.equal(got.at(-1), 429);
  assert.ok(got.length >= 21 && got.length <= 41, `${got.length - 1} answered, then refused and closed`);
  assert.ok(r.closed);
});

test('a head that never completes is 408 and closed near the header timeout; an idle one is closed silently', async () => {
  const t0 = Date.now();
  const r = await exchange(['GET / HTTP/1.1\r\n', 'Host: e\r\n', 'X-Slow: 1\r\n'], 3000);
  assert.deepEqual(statuses(r.text), [408]);
  assert.ok(r.closed && Date.now() - t0 < 2000);
});

test('HEAD has no body, HTTP/1.0 closes, an unsized answer is chunked', async () => {
  let r = await exchange(['HEAD /h HTTP/1.1\r\nHost: e\r\n\r\nGET /stream HTTP/1.1\r\nHost: e\r\n\r\n']);
  const [headAnswer, streamed] = r.text.split(/(?=HTTP\/1\.1 200)/);
  assert.match(headAnswer!, /content-length: \d+\r\n/i);
  assert.ok(headAnswer!.endsWith('\r\n\r\n'), 'no body after the HEAD answer');
  assert.match(streamed!, /transfer-encoding: chunked\r\n[\s\S]*\r\n\r\n9\r\npart one,\r\n8\r\npart two\r\n0\r\n\r\n$/);
  r = await exchange(['GET /old HTTP/1.0\r\n\r\n']);
  assert.match(r.text, /^HTTP\/1\.1 200[\s\S]*connection: close/);
  assert.ok(r.closed);
});

test('every answer carries a Date (RFC 9110 6.6.1), one of its own kept as it is', async () => {
  const { text } = await exchange([
    'GET /a HTTP/1.1\r\nHost: e\r\n\r\nGET /dated HTTP/1.1\r\nHost: e\r\n\r\nGET /stream HTTP/1.1\r\nHost: e\r\n\r\n',
  ]);
  const answers = text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 3, text);
  const dates = answers.map((a) => [...a.matchAll(/^date: (.*)\r$/gim)].map((m) => m[1]!));
  for (const d of dates) assert.equal(d.length, 1, `one Date per answer: ${text}`);
  for (const i of [0, 2]) {
    assert.match(
      dates[i]![0]!,
      /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    );
    assert.ok(Math.abs(Date.parse(dates[i]![0]!) - Date.now()) < 5000, 'the time now');
  }
  assert.equal(dates[1]![0], 'Tue, 01 Jan 2030 00:00:00 GMT');
});
