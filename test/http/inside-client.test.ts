import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';
import { InsideClient, type InsideError } from '../../src/http/inside-client.js';
import { Upstreams } from '../../src/http/upstream.js';
import { listenOn } from '../../src/util/listen.js';

// Core's client to the inside servers against a real HTTPS server: keep-alive reuse and the pool's limit,
// every answer framing, a reused connection the server had dropped, timeouts, aborts and certificate checks.
let server: Server;
let port = 0;
let ca = '';
let foreignCa = '';
const sockets = new Set<Socket>();
let requestsOnSocket = new WeakMap<Socket, number>();
const aborted: string[] = [];

before(async () => {
  const authority = await CertificateAuthority.create({ commonName: 'inside test CA' });
  const c = await authority.issue({ commonName: 'uds.test', dnsNames: ['uds.test'], ipAddresses: ['127.0.0.1'] });
  ca = authority.cert;
  foreignCa = (await CertificateAuthority.create({ commonName: 'someone else' })).cert;
  server = createServer({ cert: c.cert, key: c.key, keepAliveTimeout: 60_000 }, (req, res) => {
    const s = req.socket;
    const n = (requestsOnSocket.get(s) ?? 0) + 1;
    requestsOnSocket.set(s, n);
    res.once('close', () => !res.writableFinished && aborted.push(req.url ?? ''));
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      switch (req.url) {
        case '/sized':
          return void res
            .writeHead(200, { 'content-type': 'text/plain', 'x-n': String(n) })
            .end(`sized ${req.method} ${body}`);
        case '/chunked':
          res.writeHead(200);
          res.write('one,');
          return void setTimeout(() => res.end('two'), 10);
        case '/continue':
          res.writeContinue();
          return void res.writeHead(201, { 'content-length': '2' }).end('ok');
        case '/close-delimited':
          // HTTP/1.0-style: no length, the close ends it.
          return void s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nall of it');
        case '/second-dropped':
          // Answers the first request on a connection; drops the connection at the second, unanswered.
          if (n >= 2) return void s.destroy();
          return void res.writeHead(200, { 'content-length': '5' }).end('first');
        case '/slow':
          return; // never answers
        case '/endless': {
          res.writeHead(200);
          const t = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 5);
          return void res.once('close', () => clearInterval(t));
        }
        default:
          res.writeHead(404).end();
      }
    });
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  port = await listenOn(server, 0, '127.0.0.1');
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function get(
  client: InsideClient,
  path: string,
  method = 'GET',
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers = {};
    let text = '';
    client.request(
      { scheme: 'https', host: '127.0.0.1', port, method, path, headers: {}, ...(body ? { body } : {}) },
      {
        onHead: (s, h) => ([status, headers] = [s, h]),
        onData: (c) => ((text += c.toString()), true),
        onEnd: () => resolve({ status, headers, text }),
        onError: reject,
      },
    );
  });
}

test('keep-alive: requests one after another share a connection; the pool holds at most its size', async () => {
  const client = new InsideClient({ ca, connections: 2 });
  const a = await get(client, '/sized');
  const b = await get(client, '/sized', 'POST', Buffer.from('body!'));
  assert.equal(a.text, 'sized GET ');
  assert.equal(b.text, 'sized POST body!');
  assert.equal(b.headers['x-n'], '2', "the second request came on the first one's connection");
  requestsOnSocket = new WeakMap();
  const many = await Promise.all(Array.from({ length: 10 }, () => get(client, '/sized')));
  assert.ok(many.every((r) => r.status === 200));
  assert.ok(sockets.size <= 2, `${sockets.size} connections for a pool of 2`);
  client.close();
});

test('answer framings: chunked, 1xx before the final answer, HEAD, to the close', async () => {
  const client = new InsideClient({ ca });
  assert.equal((await get(client, '/chunked')).text, 'one,two');
  const cont = await get(client, '/continue', 'POST', Buffer.from('x'));
  assert.deepEqual([cont.status, cont.text], [201, 'ok']);
  const head = await get(client, '/sized', 'HEAD');
  assert.deepEqual([head.status, head.text], [200, '']);
  assert.equal((await get(client, '/close-delimited')).text, 'all of it');
  assert.equal((await get(client, '/sized')).status, 200, 'the pool carries on after a closed connection');
  client.close();
});

test('a reused connection the server drops unanswered is retried once on a fresh one', async () => {
  const client = new InsideClient({ ca, connections: 1 });
  assert.equal((await get(client, '/second-dropped')).text, 'first');
  assert.equal((await get(client, '/second-dropped')).text, 'first', 'answered on a new connection');
  client.close();
});

test('timeouts are InsideError timeout; an abort ends the inside request; a foreign certificate is refused', async () => {
  const client = new InsideClient({ ca, headersTimeoutMs: 300 });
  await assert.rejects(get(client, '/slow'), (err: InsideError) => err.kind === 'timeout');
  let seen = 0;
  const ctl = client.request(
    { scheme: 'https', host: '127.0.0.1', port, method: 'GET', path: '/endless', headers: {} },
    { onHead: () => {}, onData: (c) => ((seen += c.length), seen < 100_000), onEnd: () => {}, onError: () => {} },
  );
  while (seen < 100_000) await new Promise((r) => setTimeout(r, 10));
  ctl.abort();
  const end = Date.now() + 5000;
  while (!aborted.includes('/endless') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(aborted.includes('/endless'));
  client.close();

  const stranger = new Upstreams({ ca: foreignCa });
  const r = await stranger.forward(
    'GET',
    { scheme: 'https', host: '127.0.0.1', port, pathAndQuery: '/sized' },
    {},
    undefined,
  );
  assert.equal(r.status, 502);
  assert.match(String(r.body), /is unreachable: .*certificate/);
  stranger.close();
});
