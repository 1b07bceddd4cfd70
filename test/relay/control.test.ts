// The ng control socket's guards: sources outside ng.allow are refused (and never answered with more bytes than
// they sent), malformed bencode gets an error and nothing else changes, TCP and TLS frame messages however the
// stream is cut, a flood of offers meets the rate cap, capacity and maintenance refuse new calls (load limit for a
// proxy that supports it) while existing calls go on; no refusal leaves a port open.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { labPki } from '../../src/lab/lab-pki.js';
import { ngDecode, ngFrame, NgStreamFramer } from '../../src/relay/index.js';
import { textOf } from '../../bench/media/ng-client.js';
import { until } from '../media/helpers.js';
import { partySdp, startRelayNode } from './relay-node.js';

const offer = (id: string, extra: Record<string, unknown> = {}) =>
  ({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: partySdp(9000), ...extra }) as never;

/** Sends raw datagrams from `bind` and collects what comes back within `ms`. */
async function datagrams(port: number, bind: string, packets: Buffer[], ms = 300): Promise<Buffer[]> {
  const s = createSocket('udp4');
  s.bind(0, bind);
  await once(s, 'listening');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  for (const p of packets) s.send(p, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, ms));
  s.close();
  return got;
}

/** Writes `chunks` on a stream one by one and reads frames until `count` replies came or it closed. */
async function streamExchange(
  socket: import('node:net').Socket,
  chunks: Buffer[],
  count: number,
): Promise<{ replies: Array<[string, unknown]>; closed: boolean }> {
  const framer = new NgStreamFramer(1 << 20);
  const replies: Array<[string, unknown]> = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      for (const f of framer.push(d)) replies.push([f.cookie, textOf(ngDecode(f.body))]);
      if (replies.length >= count) resolve();
    });
    socket.on('close', () => {
      closed = true;
      resolve();
    });
  });
  for (const c of chunks) {
    socket.write(c);
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  return { replies, closed };
}

describe('ng control socket', () => {
  let dir: string;
  let relay: Awaited<ReturnType<typeof startRelayNode>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mra-relay-tls-'));
    const pki = await labPki(dir);
    const cert = await pki.node('relay', ['relay.example.com'], ['127.0.0.1']);
    relay = await startRelayNode({
      ng: {
        tcp: { port: 0 },
        tls: { port: 0, cert_file: cert.certFile, key_file: cert.keyFile },
        allow: ['127.0.0.1', '127.0.0.128/26'],
      },
    });
  });
  after(async () => {
    await relay?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a source outside ng.allow, answering only when the refusal is no larger than the request', async () => {
    const port = relay.node.relay.ports.udp;
    const small = Buffer.from('c1 d7:command4:pinge');
    const padded = ngFrame('c2', { command: 'ping', padding: 'x'.repeat(100) });
    const before = relay.status().ng as { notAllowed: number };
    const got = await datagrams(port, '127.0.0.3', [small, padded]);
    assert.equal(got.length, 1);
    assert.deepEqual(textOf(ngDecode(got[0]!.subarray(3))), {
      result: 'error',
      'error-reason': 'control source not allowed',
    });
    assert.equal(got[0]!.subarray(0, 3).toString(), 'c2 ');
    assert.equal((relay.status().ng as { notAllowed: number }).notAllowed - before.notAllowed, 2);
    const inBlock = await datagrams(port, '127.0.0.130', [small]);
    assert.equal(inBlock[0]?.toString(), 'c1 d6:result4:ponge', 'a CIDR block lets its addresses in');
  });

  it('answers malformed bencode with an error and goes on; a datagram without a cookie is dropped', async () => {
    const port = relay.node.relay.ports.udp;
    const got = await datagrams(port, '127.0.0.1', [
      Buffer.from('m1 d7:command4:ping'),
      Buffer.from('m2 di5e4:pinge'),
      Buffer.from('nocookie'),
      Buffer.from('m3 d7:command4:pinge'),
    ]);
    const replies = got.map((g) => [g.toString('latin1').split(' ')[0], textOf(ngDecode(g.subarray(3)))]);
    assert.deepEqual(
      replies.map((r) => r[0]),
      ['m1', 'm2', 'm3'],
    );
    assert.match(
      String((replies[0]![1] as Record<string, string>)['error-reason']),
      /could not decode the bencode dictionary: malformed bencode at byte \d+: truncated/,
    );
    assert.match(String((replies[1]![1] as Record<string, string>)['error-reason']), /key is not a byte string/);
    assert.deepEqual(replies[2]![1], { result: 'pong' });
  });

  it('frames TCP however the stream is cut, and closes a stream that cannot be framed', async () => {
    const wire = Buffer.concat([
      ngFrame('t1', { command: 'ping' }),
      ngFrame('t2', { command: 'list' }),
      ngFrame('t3', { command: 'ping' }),
    ]);
    const s = tcpConnect(relay.node.relay.ports.tcp!, '127.0.0.1');
    await once(s, 'connect');
    const r = await streamExchange(s, [wire.subarray(0, 5), wire.subarray(5, 30), wire.subarray(30)], 3);
    assert.deepEqual(r.replies, [
      ['t1', { result: 'pong' }],
      ['t2', { result: 'ok', calls: [] }],
      ['t3', { result: 'pong' }],
    ]);
    const bad = await streamExchange(s, [Buffer.from('t4 x')], 1);
    assert.match(String((bad.replies[0]![1] as Record<string, string>)['error-reason']), /cannot frame the stream/);
    s.destroy();
  });

  it('speaks the same over TLS', async () => {
    const s = tlsConnect({ port: relay.node.relay.ports.tls!, host: '127.0.0.1', rejectUnauthorized: false });
    await once(s, 'secureConnect');
    const r = await streamExchange(s, [ngFrame('s1', { command: 'ping' })], 1);
    assert.deepEqual(r.replies, [['s1', { result: 'pong' }]]);
    s.destroy();
  });
});

describe('offer limits', () => {
  let relay: Awaited<ReturnType<typeof startRelayNode>>;
  let small: Awaited<ReturnType<typeof startRelayNode>>;
  before(async () => {
    relay = await startRelayNode({ ng: { max_offers_per_s: 5 } });
    small = await startRelayNode({ capacity: { calls: 3 } });
  });
  after(async () => {
    await relay?.close();
    await small?.close();
  });

  it('a flood of offers meets the rate cap with a clear error, or load limit for a proxy that supports it', async () => {
    const replies = [];
    for (let i = 0; i < 12; i++)
      replies.push(await relay.ng.send(offer(`flood-${i}`, i % 2 ? { supports: ['load limit'] } : {})));
    const accepted = replies.filter((r) => r.result === 'ok').length;
    const limited = replies.filter((r) => r.result !== 'ok');
    assert.ok(limited.length >= 2, 'two windows of a second hold at most 10 offers');
    for (const [i, r] of replies.entries()) {
      if (r.result === 'ok') continue;
      if (i % 2)
        assert.deepEqual(r, {
          result: 'load limit',
          message: 'Offer rate limit reached: more than 5 offers in one second (ng.max_offers_per_s)',
        });
      else
        assert.deepEqual(r, {
          result: 'error',
          'error-reason': 'Offer rate limit reached: more than 5 offers in one second (ng.max_offers_per_s)',
        });
    }
    assert.equal(relay.status().portPairsInUse, accepted * 2, 'a refused offer opened nothing');
    for (const r of replies.keys()) await relay.ng.send({ command: 'delete', 'call-id': `flood-${r}` });
  });

  it('capacity and maintenance refuse new calls; an existing call is re-offered all the same', async () => {
    const relay = small;
    for (let i = 0; i < 3; i++) await relay.ng.command(offer(`cap-${i}`));
    const full = await relay.ng.send(offer('cap-3'));
    assert.deepEqual(full, { result: 'error', 'error-reason': 'Parallel session limit reached (capacity.calls)' });
    assert.equal((await relay.ng.send(offer('cap-0'))).result, 'ok', 'a re-offer on a call it holds');
    await relay.ng.command({ command: 'delete', 'call-id': 'cap-2' });
    const res = await fetch(`http://127.0.0.1:${relay.node.ports.admin}/api/maintenance`, {
      method: 'POST',
      body: '{"on":true}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await relay.ng.send(offer('m-1', { supports: ['load limit'] })), {
      result: 'load limit',
      message: 'Maintenance mode: this relay takes no new calls',
    });
    assert.equal((await relay.ng.send(offer('cap-1'))).result, 'ok');
    const drain = (relay.node.status() as { drain: { active: Record<string, number>; drained: boolean } }).drain;
    assert.equal(drain.active['relay.calls'], 2, 'maintenance mode waits for the calls the relay holds');
    for (const id of ['cap-0', 'cap-1']) await relay.ng.command({ command: 'delete', 'call-id': id });
    assert.equal((relay.node.status() as { drain: { drained: boolean } }).drain.drained, true);
    await until(() => relay.status().portPairsInUse === 0);
  });
});
