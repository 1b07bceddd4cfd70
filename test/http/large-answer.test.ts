import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { MDUDE, b64, basicOf, DOMAIN, startRig, type Rig } from './rig.js';

// Small sized answers are gathered whole on both ends of the tunnel; these are the other kind: larger than that,
// or without a length, they must stream through edge, tunnel and core intact, and a client leaving in the middle
// must release the inside request.
const BIG = Buffer.alloc(600 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + (i >> 9)) & 0xff;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let rig: Rig;
let files: Server;
let cookie = '';
let route = '';
const aborted: string[] = [];

before(async () => {
  files = createServer((req, res) => {
    res.once('close', () => {
      if (!res.writableFinished) aborted.push(req.url ?? '');
    });
    if (req.url === '/files/sized')
      return void res
        .writeHead(200, { 'content-length': BIG.length, 'content-type': 'application/octet-stream' })
        .end(BIG);
    if (req.url === '/files/unsized') {
      // Chunked, in pieces with pauses, as a generated file would be.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let at = 0;
      const next = () => {
        if (at >= BIG.length) return void res.end();
        res.write(BIG.subarray(at, (at += 64 * 1024)));
        setTimeout(next, 5);
      };
      return next();
    }
    if (req.url === '/files/endless') {
      // Never finishes: only the client leaving can end it.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const t = setInterval(() => res.write(BIG.subarray(0, 16 * 1024)), 10);
      return void res.once('close', () => clearInterval(t));
    }
    res.writeHead(404).end();
  });
  files.listen(0, '127.0.0.1');
  await once(files, 'listening');
  const port = (files.address() as AddressInfo).port;
  rig = await startRig({
    coreHttp: { allow_list: { rules: [{ url: `http://127.0.0.1:${port}/files/`, methods: ['GET'] }] } },
  });
  route = b64(`${DOMAIN}/http/127.0.0.1/${port}`);
  const signIn = await rig.get(`/${b64(DOMAIN)}/get_edge_config?service_name=_cisco-uds`, {
    authorization: basicOf(MDUDE.id, MDUDE.password),
  });
  assert.equal(signIn.status, 200, signIn.text);
  cookie = /X-Auth=[0-9a-f-]+/.exec(String(signIn.headers['set-cookie']))![0];
});

after(async () => {
  await rig?.close();
  files?.closeAllConnections();
  files?.close();
});

test('an answer larger than the gathered size streams through whole', async () => {
  const r = await request(`${rig.base}/${route}/files/sized`, { dispatcher: rig.client(), headers: { cookie } });
  const body = Buffer.from(await r.body.arrayBuffer());
  assert.equal(r.statusCode, 200);
  assert.equal(body.length, BIG.length);
  assert.equal(sha(body), sha(BIG));
});

test('an answer without a length streams through whole', async () => {
  const r = await request(`${rig.base}/${route}/files/unsized`, { dispatcher: rig.client(), headers: { cookie } });
  const body = Buffer.from(await r.body.arrayBuffer());
  assert.equal(r.statusCode, 200);
  assert.equal(sha(body), sha(BIG));
});

test('a client leaving in the middle of an endless answer ends the inside request', async () => {
  const client = rig.client();
  const r = await request(`${rig.base}/${route}/files/endless`, { dispatcher: client, headers: { cookie } });
  assert.equal(r.statusCode, 200);
  let seen = 0;
  for await (const chunk of r.body) {
    seen += (chunk as Buffer).length;
    if (seen > 200 * 1024) break; // leaves: the body is destroyed
  }
  const end = Date.now() + 10_000;
  while (!aborted.includes('/files/endless') && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
  assert.ok(aborted.includes('/files/endless'), 'the inside server saw its request end');
  // The proxy is still fine afterwards.
  const again = await request(`${rig.base}/${route}/files/sized`, { dispatcher: rig.client(), headers: { cookie } });
  assert.equal(sha(Buffer.from(await again.body.arrayBuffer())), sha(BIG));
});
