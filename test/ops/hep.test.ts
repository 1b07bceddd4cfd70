import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { startPair } from '../sip-proxy/pair.js';
import { waitFor } from '../support/log-capture.js';
import { encodeHep } from '../../src/diag/index.js';

interface Hep {
  family: number;
  protocol: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seconds: number;
  micros: number;
  payloadType: number;
  agentId: number;
  password?: string;
  payload: string;
}

/** A HEP v3 decoder of its own (not the feed's encoder read backwards): the collector's view of a datagram. */
function decode(b: Buffer): Hep {
  assert.equal(b.toString('ascii', 0, 4), 'HEP3');
  assert.equal(b.readUInt16BE(4), b.length, 'the total length is the datagram');
  const out: Partial<Hep> = {};
  const ip = (x: Buffer) => (x.length === 4 ? [...x].join('.') : x.toString('hex').match(/.{4}/g)!.join(':'));
  for (let off = 6; off < b.length; ) {
    const vendor = b.readUInt16BE(off);
    const type = b.readUInt16BE(off + 2);
    const len = b.readUInt16BE(off + 4);
    assert.ok(len >= 6 && off + len <= b.length, `chunk ${type} fits`);
    assert.equal(vendor, 0);
    const v = b.subarray(off + 6, off + len);
    if (type === 1) out.family = v[0];
    else if (type === 2) out.protocol = v[0];
    else if (type === 3 || type === 5) out.src = ip(v);
    else if (type === 4 || type === 6) out.dst = ip(v);
    else if (type === 7) out.srcPort = v.readUInt16BE();
    else if (type === 8) out.dstPort = v.readUInt16BE();
    else if (type === 9) out.seconds = v.readUInt32BE();
    else if (type === 10) out.micros = v.readUInt32BE();
    else if (type === 11) out.payloadType = v[0];
    else if (type === 12) out.agentId = v.readUInt32BE();
    else if (type === 14) out.password = v.toString('utf8');
    else if (type === 15) out.payload = v.toString('latin1');
    off += len;
  }
  return out as Hep;
}

test('HEP v3: the edge feeds its SIP with clients and core its SIP with call control to a Homer collector', async (t) => {
  const collector = createSocket('udp4');
  collector.bind(0, '127.0.0.1');
  await once(collector, 'listening');
  const port = collector.address().port;
  const got: Array<Hep & { raw: number }> = [];
  collector.on('message', (m) => got.push({ ...decode(m), raw: m.length }));
  t.after(() => collector.close());

  const pair = await startPair({
    edge: { hep: { address: '127.0.0.1', port, agent_id: 101, password: 'homer-key' } },
    core: { hep: { address: '127.0.0.1', port, agent_id: 202 } },
  });
  t.after(() => pair.close());
  const alice = await pair.client('alice');
  const before = Date.now() / 1000;
  assert.equal((await alice.register()).status, 200);
  const sipPort = pair.edge.ports.sipTls!;
  const ccPort = pair.callControl.ports.tcp;
  await waitFor(
    'the REGISTER and its 200 from both nodes',
    () =>
      got.filter((h) => /^REGISTER /.test(h.payload)).length >= 2 &&
      got.filter((h) => /^SIP\/2\.0 200/.test(h.payload)).length >= 2,
    5000,
  );

  const edgeIn = got.find((h) => h.agentId === 101 && /^REGISTER /.test(h.payload))!;
  assert.equal(edgeIn.family, 2);
  assert.equal(edgeIn.protocol, 6, 'TCP (TLS)');
  assert.equal(edgeIn.payloadType, 1, 'SIP');
  assert.equal(edgeIn.password, 'homer-key');
  assert.equal(edgeIn.dst, '127.0.0.1');
  assert.equal(edgeIn.dstPort, sipPort, "from the client to the edge's SIP TLS port");
  assert.ok(edgeIn.srcPort > 0 && edgeIn.srcPort !== sipPort);
  assert.ok(Math.abs(edgeIn.seconds + edgeIn.micros / 1e6 - before) < 10, 'stamped with the time it passed');
  assert.match(edgeIn.payload, /^REGISTER sip:example\.com SIP\/2\.0\r\n[\s\S]*\r\n\r\n$/, 'the whole message');
  const edgeOut = got.find((h) => h.agentId === 101 && /^SIP\/2\.0 200/.test(h.payload))!;
  assert.deepEqual(
    [edgeOut.src, edgeOut.srcPort, edgeOut.dst, edgeOut.dstPort],
    ['127.0.0.1', sipPort, '127.0.0.1', edgeIn.srcPort],
    'the answer goes back the same way',
  );

  const coreOut = got.find((h) => h.agentId === 202 && /^REGISTER /.test(h.payload))!;
  assert.equal(coreOut.dstPort, ccPort, 'core to call control');
  assert.equal(coreOut.password, undefined, 'no key configured, none sent');
  const coreIn = got.find((h) => h.agentId === 202 && /^SIP\/2\.0 200/.test(h.payload))!;
  assert.equal(coreIn.srcPort, ccPort);
  assert.ok(got.every((h) => h.agentId === 101 || h.agentId === 202));
  assert.ok(
    !got.some(
      (h) =>
        /^REGISTER sip:.*\r\nVia: SIP\/2\.0\/TLS [^\r]*mra-reg/.test(h.payload) &&
        h.agentId === 101 &&
        h.dstPort !== sipPort,
    ),
    'the traversal link itself is not fed',
  );
  const status = pair.edge.status() as { hep: { sent: number; collector: string } };
  assert.equal(status.hep.collector, `127.0.0.1:${port}`);
  assert.ok(status.hep.sent >= 2);
});

test('HEP v3 over IPv6, and an IPv4-mapped address as IPv4', () => {
  const v6 = decode(
    encodeHep({
      protocol: 6,
      src: { address: '2001:db8::1', port: 5061 },
      dst: { address: '::1', port: 40000 },
      timeMs: 1_700_000_000_123,
      payloadType: 1,
      agentId: 7,
      payload: Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'),
    }),
  );
  assert.deepEqual(
    [v6.family, v6.src, v6.dst, v6.srcPort, v6.dstPort, v6.seconds, v6.micros],
    [
      10,
      '2001:0db8:0000:0000:0000:0000:0000:0001',
      '0000:0000:0000:0000:0000:0000:0000:0001',
      5061,
      40000,
      1_700_000_000,
      123_000,
    ],
  );
  const mapped = decode(
    encodeHep({
      protocol: 6,
      src: { address: '::ffff:198.51.100.7', port: 1 },
      dst: { address: '127.0.0.1', port: 2 },
      timeMs: 0,
      payloadType: 1,
      agentId: 7,
      payload: Buffer.alloc(0),
    }),
  );
  assert.deepEqual([mapped.family, mapped.src], [2, '198.51.100.7']);
});
