// The call generator's figures against impairments planted on purpose: the engine's relay stands in for a pair
// (SRTP on the client's leg, plain RTP inside), and a UDP hop between the relay and the generator's inside end
// drops every 10th packet and delays every other one by 40 ms. The generator must count exactly the packets dropped,
// report RFC 3550 jitter near the delay (and none on the clean direction), and see the delay in its latency; a
// wrong key shows as authentication failures, not as media.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { MediaEngine, type Relay } from '../../src/media/index.js';
import { AUDIO, CallGenerator } from '../../src/capacity/index.js';
import { mediaRange } from '../support/media-range.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const DELAY_MS = 40;
let engine: MediaEngine;
let gen: CallGenerator;
let hop: dgram.Socket;
const planted = { forwarded: 0, dropped: 0, delayed: 0 };
/** Where the hop sends what the generator's inside end sends (the relay's inside port): that way is not impaired. */
let relayInside = 0;

before(async () => {
  const range = mediaRange();
  engine = await MediaEngine.create({
    workers: 1,
    muxPairs: 0,
    bindAddress: '127.0.0.1',
    portMin: range.port_min,
    portMax: range.port_max,
  });
  gen = await CallGenerator.start();
  // The impairing hop: what the relay sends inside passes here on its way to the generator.
  hop = dgram.createSocket('udp4');
  hop.bind(0, '127.0.0.1');
  await once(hop, 'listening');
  let n = 0;
  hop.on('message', (msg, from) => {
    if (from.port === gen.ports.inside[0]) return void hop.send(msg, relayInside, '127.0.0.1');
    n++;
    if (n % 10 === 0) return void planted.dropped++;
    const send = () => {
      planted.forwarded++;
      hop.send(msg, gen.ports.inside[0]!, '127.0.0.1');
    };
    if (n % 2 === 0) {
      planted.delayed++;
      setTimeout(send, DELAY_MS);
    } else send();
  });
});

after(async () => {
  hop?.close();
  await gen?.close();
  await engine?.close();
});

/** A relay as the pair's media: leg a the client's SRTP (keys as the offer and answer gave them), leg b plain towards `insideTo`. */
function relayFor(txKey: Buffer, rxKey: Buffer, insideTo: number): Relay {
  const relay = engine.createRelay({
    a: { remote: { address: '127.0.0.1', port: gen.ports.client[0]! } },
    b: { remote: { address: '127.0.0.1', port: insideTo } },
  });
  relay.setKeys('a', { recv: { suite: SUITE, key: txKey }, send: { suite: SUITE, key: rxKey } });
  return relay;
}

test('loss counts exactly the packets dropped on purpose; jitter and latency show the delay planted, only where it was planted', async () => {
  const tx = randomBytes(30);
  const rx = randomBytes(30);
  const relay = relayFor(tx, rx, hop.address().port);
  relayInside = relay.ports.b.rtp;
  try {
    // The inside end sends through the hop too: the relay's inside leg hears only the remote it was given.
    await gen.add('planted', [
      { clientPort: relay.ports.a.rtp, clientTxKey: tx, clientRxKey: rx, insidePort: hop.address().port, ...AUDIO },
    ]);
    await gen.windowStart();
    await new Promise((r) => setTimeout(r, 2000));
    await gen.windowEnd();
    await gen.stop('planted');
    await new Promise((r) => setTimeout(r, DELAY_MS + 300));
    const w = await gen.windowRead();
    const call = await gen.del('planted');
    const { up, down } = call.streams[0]!;
    // Up (client → inside) crossed the hop: every packet the hop did not drop arrived.
    assert.ok(up.sent >= 90, `about 50 packets a second for 2 s and more: ${up.sent}`);
    assert.equal(
      up.sent - up.received,
      planted.dropped,
      `lost ${up.sent - up.received}, dropped on purpose ${planted.dropped}`,
    );
    assert.equal(up.received, planted.forwarded);
    assert.equal(up.authFail, 0);
    // Every other packet 40 ms late: |D| is about 40 ms at every packet, and J tends to it (RFC 3550 A.8).
    assert.ok(
      up.jitterUs > 0.6 * DELAY_MS * 1000 && up.jitterUs < 1.4 * DELAY_MS * 1000,
      `jitter up ${up.jitterUs} µs against ${DELAY_MS} ms planted`,
    );
    assert.ok(up.maxUs >= DELAY_MS * 1000, `the delayed packets' latency: max ${up.maxUs} µs`);
    // Down (inside → client) was not impaired: no loss, SRTP verified, jitter far below the planted delay.
    assert.equal(down.sent, down.received, 'nothing lost the clean way');
    assert.equal(down.authFail, 0);
    assert.ok(down.jitterUs < 0.3 * DELAY_MS * 1000, `jitter down ${down.jitterUs} µs`);
    // The window: the same loss, in percent, from packets stamped inside it.
    const lossUp = (100 * (w.up.sent - w.up.received)) / w.up.sent;
    assert.ok(lossUp > 5 && lossUp < 15, `window loss up ${lossUp.toFixed(1)} % for 1 in 10 dropped`);
    assert.equal(w.down.sent, w.down.received);
    assert.ok(w.up.maxUs >= DELAY_MS * 1000);
  } finally {
    await relay.close();
  }
});

test('a client that cannot decrypt what the pair sends counts authentication failures, not media', async () => {
  const tx = randomBytes(30);
  const relay = relayFor(tx, randomBytes(30), gen.ports.inside[0]!);
  try {
    await gen.add('wrong-key', [
      {
        clientPort: relay.ports.a.rtp,
        clientTxKey: tx,
        clientRxKey: randomBytes(30),
        insidePort: relay.ports.b.rtp,
        ...AUDIO,
      },
    ]);
    await new Promise((r) => setTimeout(r, 500));
    await gen.stop('wrong-key');
    await new Promise((r) => setTimeout(r, 200));
    const { up, down } = (await gen.del('wrong-key')).streams[0]!;
    assert.equal(up.received, up.sent, 'the relay decrypts what the client sent');
    assert.ok(down.sent > 10);
    assert.equal(down.received, 0);
    assert.equal(down.authFail, down.sent);
  } finally {
    await relay.close();
  }
});

test('the generator refuses a bad command with the reason and goes on', async () => {
  await assert.rejects(
    gen.add('bad', [
      { clientPort: 0, clientTxKey: randomBytes(30), clientRxKey: randomBytes(30), insidePort: 9, ...AUDIO },
    ]),
    /bad port/,
  );
  await assert.rejects(
    gen.add('short', [
      { clientPort: 9, clientTxKey: randomBytes(10), clientRxKey: randomBytes(30), insidePort: 9, ...AUDIO },
    ]),
    /bad key/,
  );
  await assert.rejects(gen.del('nobody'), /no such call/);
  await assert.rejects(gen.windowRead(), /the window has not ended|no window/);
});
