// Each ng command against a running relay node, with real RTP through it: offer/answer rewrite the SDP for each
// side (interfaces, o= address, ports), media flows both ways and query counts it, SAVP↔AVP is bridged with SDES
// (AES-CM and AES-GCM, checked with werift), rtcp-mux is demultiplexed, delete frees every port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpPacket,
  SrtpSession,
} from 'werift-rtp';
import { Peer, rtcpRr, rtp, until } from '../media/helpers.js';
import { EXTERNAL, INTERNAL, audioPort, connection, cryptos, partySdp, startRelayNode } from './relay-node.js';

type Relay = Awaited<ReturnType<typeof startRelayNode>>;
let relay: Relay;
before(async () => {
  relay = await startRelayNode();
});
after(async () => {
  await relay?.close();
});

let n = 0;
const callId = () => `call-${process.pid}-${++n}`;
const send = (p: Peer, data: Buffer, port: number, address: string) =>
  new Promise<void>((r, j) => p.socket.send(data, port, address, (e) => (e ? j(e) : r())));

describe('ng commands', () => {
  it('ping answers pong; an unknown command, a missing key and bad SDP are errors with a reason', async () => {
    assert.deepEqual(await relay.ng.send({ command: 'ping' }), { result: 'pong' });
    assert.match(
      String((await relay.ng.send({ command: 'block DTMF', 'call-id': 'x' }))['error-reason']),
      /Unrecognized command "block-dtmf"/,
    );
    assert.match(
      String((await relay.ng.send({ command: 'offer', 'from-tag': 'a', sdp: partySdp(4000) }))['error-reason']),
      /No call-id in message/,
    );
    assert.match(
      String(
        (await relay.ng.send({ command: 'offer', 'call-id': 'x', 'from-tag': 'a', sdp: 'v=0\r\nbogus\r\n' }))[
          'error-reason'
        ],
      ),
      /Failed to parse SDP/,
    );
    assert.match(
      String(
        (
          await relay.ng.send({
            command: 'answer',
            'call-id': 'nope',
            'from-tag': 'a',
            'to-tag': 'b',
            sdp: partySdp(4000),
          })
        )['error-reason'],
      ),
      /Unknown call-id/,
    );
    assert.match(
      String((await relay.ng.send({ command: 'query', 'call-id': 'nope' }))['error-reason']),
      /Unknown call-id/,
    );
    const del = await relay.ng.send({ command: 'delete', 'call-id': 'nope', 'from-tag': 'a' });
    assert.deepEqual(del, { result: 'ok', warning: "Call-ID not found or tags didn't match" });
    assert.equal((await relay.ng.send({ command: 'delete', 'call-id': 'nope', flags: ['fatal'] })).result, 'error');
    assert.match(
      String(
        (await relay.ng.send({ command: 'offer', 'call-id': 'x', 'from-tag': 'a', sdp: partySdp(4000), ICE: 'force' }))[
          'error-reason'
        ],
      ),
      /ICE=force is not supported/,
    );
    assert.match(
      String(
        (
          await relay.ng.send({
            command: 'offer',
            'call-id': 'x',
            'from-tag': 'a',
            sdp: partySdp(4000),
            flags: ['asymmetric'],
          })
        )['error-reason'],
      ),
      /asymmetric RTP/,
    );
    assert.match(
      String(
        (
          await relay.ng.send({
            command: 'offer',
            'call-id': 'x',
            'from-tag': 'a',
            sdp: partySdp(4000),
            'transport-protocol': 'UDP/TLS/RTP/SAVPF',
          })
        )['error-reason'],
      ),
      /DTLS-SRTP/,
    );
    assert.deepEqual((await relay.ng.send({ command: 'list' })).calls, [], 'no refused offer left a call behind');
    assert.equal(relay.status().portPairsInUse, 0);
  });

  it('offer and answer: each side gets its interface, the o= address replaced, and RTP flows both ways, counted by query', async () => {
    const a = await Peer.open();
    const b = await Peer.open();
    const id = callId();
    try {
      const offer = await relay.ng.command({
        command: 'offer',
        'call-id': id,
        'from-tag': 'ta',
        sdp: partySdp(a.port),
        replace: ['origin', 'session-connection'],
        direction: ['internal', 'external'],
        'received-from': ['IP4', '127.0.0.1'],
      });
      assert.equal(connection(offer.sdp), EXTERNAL, 'the callee is told the external interface');
      assert.match(String(offer.sdp), new RegExp(`^o=- 1000 1 IN IP4 ${EXTERNAL.replace(/\./g, '\\.')}\\r$`, 'm'));
      const answer = await relay.ng.command({
        command: 'answer',
        'call-id': id,
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: partySdp(b.port),
        replace: ['origin'],
      });
      assert.equal(connection(answer.sdp), INTERNAL, 'the caller is told the internal interface');
      assert.match(
        String(answer.sdp),
        /a=rtpmap:101 telephone-event\/8000\r\na=sendrecv\r\n$/,
        'what the relay does not rewrite passes as it was',
      );
      const toB = audioPort(offer.sdp);
      const toA = audioPort(answer.sdp);
      for (let i = 0; i < 20; i++) await send(a, rtp(i, 0xaaaa), toA, INTERNAL);
      for (let i = 0; i < 15; i++) await send(b, rtp(100 + i, 0xbbbb), toB, EXTERNAL);
      await b.waitFor(20);
      await a.waitFor(15);
      // RTCP on the caller's RTCP port (RTP + 1): counted apart from RTP.
      await send(a, rtcpRr(0xaaaa), toA + 1, INTERNAL);
      let q = await relay.ng.command({ command: 'query', 'call-id': id });
      for (let i = 0; i < 100 && (q.totals as { RTCP: { packets: number } }).RTCP.packets === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        q = await relay.ng.command({ command: 'query', 'call-id': id });
      }
      const tags = q.tags as Record<
        string,
        {
          medias: Array<{ streams: Array<{ stats: Record<string, number>; 'local port': number }> }>;
          'in dialogue with': string;
        }
      >;
      assert.deepEqual(Object.keys(tags).sort(), ['ta', 'tb']);
      assert.equal(tags.ta!['in dialogue with'], 'tb');
      assert.deepEqual(tags.ta!.medias[0]!.streams[0]!.stats, {
        packets: 20,
        bytes: 20 * 172,
        errors: 0,
        lost: 0,
        expected: 20,
      });
      assert.equal(tags.ta!.medias[0]!.streams[0]!['local port'], toA);
      assert.deepEqual(tags.ta!.medias[0]!.streams[1]!.stats, { packets: 1, bytes: 8, errors: 0 });
      assert.deepEqual(tags.tb!.medias[0]!.streams[0]!.stats, {
        packets: 15,
        bytes: 15 * 172,
        errors: 0,
        lost: 0,
        expected: 15,
      });
      assert.deepEqual(q.totals, {
        RTP: { packets: 35, bytes: 35 * 172, errors: 0 },
        RTCP: { packets: 1, bytes: 8, errors: 0 },
      });
      assert.deepEqual((await relay.ng.command({ command: 'list' })).calls, [id]);
      const del = await relay.ng.command({ command: 'delete', 'call-id': id, 'from-tag': 'ta' });
      assert.deepEqual(del.totals, q.totals, "delete answers with the call's figures");
      assert.deepEqual((await relay.ng.command({ command: 'list' })).calls, []);
      await until(() => relay.status().portPairsInUse === 0);
    } finally {
      await relay.ng.send({ command: 'delete', 'call-id': id });
      a.close();
      b.close();
    }
  });

  it('a retransmitted offer (same cookie) runs once; a re-offer keeps the ports; a second fork answer takes the callee side over', async () => {
    const a = await Peer.open();
    const id = callId();
    try {
      const cmd = { command: 'offer', 'call-id': id, 'from-tag': 'fa', sdp: partySdp(a.port) };
      const first = await relay.ng.send(cmd, 3000, `dup-${id}`);
      const again = await relay.ng.send(cmd, 3000, `dup-${id}`);
      assert.equal(again.sdp, first.sdp, 'the same reply, the same port');
      const pairs = relay.status().portPairsInUse;
      const reoffer = await relay.ng.command(cmd);
      assert.equal(audioPort(reoffer.sdp), audioPort(first.sdp), 'the same dialogue, the same relay');
      assert.equal(relay.status().portPairsInUse, pairs);
      const b1 = await relay.ng.command({
        command: 'answer',
        'call-id': id,
        'from-tag': 'fa',
        'to-tag': 'fork1',
        sdp: partySdp(5001),
      });
      const b2 = await relay.ng.command({
        command: 'answer',
        'call-id': id,
        'from-tag': 'fa',
        'to-tag': 'fork2',
        sdp: partySdp(5003),
      });
      assert.equal(audioPort(b2.sdp), audioPort(b1.sdp));
      const q = await relay.ng.command({ command: 'query', 'call-id': id });
      assert.deepEqual(
        Object.keys(q.tags as object).sort(),
        ['fa', 'fork2'],
        'the latest answerer holds the callee side',
      );
      // A branch of its own (another via-branch) is another relay.
      const other = await relay.ng.command({ ...cmd, 'via-branch': 'z9hG4bK-2' });
      assert.notEqual(audioPort(other.sdp), audioPort(first.sdp));
      await relay.ng.command({ command: 'delete', 'call-id': id });
      await until(() => relay.status().portPairsInUse === 0);
    } finally {
      a.close();
    }
  });
});

const SUITES = [
  { suite: 'AES_CM_128_HMAC_SHA1_80', profile: ProtectionProfileAes128CmHmacSha1_80, keyLength: 16, keySalt: 30 },
  { suite: 'AEAD_AES_128_GCM', profile: ProtectionProfileAeadAes128Gcm, keyLength: 16, keySalt: 28 },
];

describe('RTP/AVP ↔ RTP/SAVP with SDES', () => {
  for (const s of SUITES)
    it(`${s.suite}: the plain caller's RTP reaches the SRTP callee encrypted under the relay's key, and back`, async () => {
      const a = await Peer.open();
      const b = await Peer.open();
      const id = callId();
      try {
        const offer = await relay.ng.command({
          command: 'offer',
          'call-id': id,
          'from-tag': 'pa',
          sdp: partySdp(a.port),
          'transport-protocol': 'RTP/SAVP',
          ICE: 'remove',
        });
        assert.match(String(offer.sdp), /^m=audio \d+ RTP\/SAVP 0 101\r$/m);
        const offered = cryptos(offer.sdp);
        assert.deepEqual(
          offered.map((c) => c.suite),
          [
            'AEAD_AES_256_GCM',
            'AEAD_AES_128_GCM',
            'AES_256_CM_HMAC_SHA1_80',
            'AES_256_CM_HMAC_SHA1_32',
            'AES_CM_128_HMAC_SHA1_80',
            'AES_CM_128_HMAC_SHA1_32',
          ],
        );
        assert.doesNotMatch(String(offer.sdp), /inline:\S*=/, 'no base64 padding, as rtpengine writes keys');
        const relayKey = offered.find((c) => c.suite === s.suite)!;
        const bKey = randomBytes(s.keySalt);
        const answer = await relay.ng.command({
          command: 'answer',
          'call-id': id,
          'from-tag': 'pa',
          'to-tag': 'pb',
          sdp: partySdp(b.port, {
            proto: 'RTP/SAVP',
            extra: [`a=crypto:${relayKey.tag} ${s.suite} inline:${bKey.toString('base64')}`],
          }),
        });
        assert.match(String(answer.sdp), /^m=audio \d+ RTP\/AVP 0 101\r$/m);
        assert.deepEqual(cryptos(answer.sdp), [], 'the caller keeps plain RTP');
        const keys = {
          localMasterKey: bKey.subarray(0, s.keyLength),
          localMasterSalt: bKey.subarray(s.keyLength),
          remoteMasterKey: relayKey.key.subarray(0, s.keyLength),
          remoteMasterSalt: relayKey.key.subarray(s.keyLength),
        };
        const callee = new SrtpSession({ keys, profile: s.profile });
        for (let i = 0; i < 10; i++) await send(a, rtp(i, 0x1234, { fill: i }), audioPort(answer.sdp), INTERNAL);
        await b.waitFor(10);
        b.received.forEach((p, i) =>
          assert.deepEqual(
            callee.decrypt(p.data),
            rtp(i, 0x1234, { fill: i }),
            `packet ${i} decrypts to what the caller sent`,
          ),
        );
        for (let i = 0; i < 10; i++) {
          const p = RtpPacket.deSerialize(rtp(500 + i, 0x5678, { fill: i }));
          await send(b, callee.encrypt(p.payload, p.header), audioPort(offer.sdp), INTERNAL);
        }
        await a.waitFor(10);
        a.received.forEach((p, i) =>
          assert.deepEqual(p.data, rtp(500 + i, 0x5678, { fill: i }), `packet ${i} reaches the caller decrypted`),
        );
        await relay.ng.command({ command: 'delete', 'call-id': id });
      } finally {
        a.close();
        b.close();
      }
    });

  it('an SRTP offer to a plain callee: the caller is answered with its first usable suite and a key of the relay', async () => {
    const id = callId();
    const key = randomBytes(30).toString('base64');
    const offer = await relay.ng.command({
      command: 'offer',
      'call-id': id,
      'from-tag': 'sa',
      sdp: partySdp(6000, {
        proto: 'RTP/SAVP',
        extra: [
          `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}`,
          `a=crypto:2 AEAD_AES_128_GCM inline:${randomBytes(28).toString('base64')}`,
        ],
      }),
      'transport-protocol': 'RTP/AVP',
    });
    assert.match(String(offer.sdp), /^m=audio \d+ RTP\/AVP 0 101\r$/m);
    assert.deepEqual(cryptos(offer.sdp), []);
    const answer = await relay.ng.command({
      command: 'answer',
      'call-id': id,
      'from-tag': 'sa',
      'to-tag': 'sb',
      sdp: partySdp(6002),
    });
    assert.match(String(answer.sdp), /^m=audio \d+ RTP\/SAVP 0 101\r$/m);
    const c = cryptos(answer.sdp);
    assert.deepEqual(
      c.map((x) => [x.tag, x.suite, x.key.length]),
      [[1, 'AES_CM_128_HMAC_SHA1_80', 30]],
    );
    assert.notEqual(c[0]!.key.toString('base64'), key, 'the relay keys its own direction');
    await relay.ng.command({ command: 'delete', 'call-id': id });
  });
});

describe('rtcp-mux', () => {
  it('demux: the caller keeps rtcp-mux, the callee is offered none; RTCP crosses from the RTP port to port + 1', async () => {
    const a = await Peer.open();
    const b = await Peer.open();
    const bRtcp = await Peer.open();
    const id = callId();
    try {
      const offer = await relay.ng.command({
        command: 'offer',
        'call-id': id,
        'from-tag': 'ma',
        sdp: partySdp(a.port, { extra: ['a=rtcp-mux'] }),
        'rtcp-mux': ['demux'],
      });
      assert.doesNotMatch(String(offer.sdp), /rtcp-mux/);
      const answer = await relay.ng.command({
        command: 'answer',
        'call-id': id,
        'from-tag': 'ma',
        'to-tag': 'mb',
        sdp: partySdp(b.port, { extra: [`a=rtcp:${bRtcp.port}`] }),
        'rtcp-mux': ['demux'],
      });
      assert.match(String(answer.sdp), /a=rtcp-mux/);
      const toA = audioPort(answer.sdp);
      await send(a, rtcpRr(0xa), toA, INTERNAL);
      await bRtcp.waitFor(1);
      assert.equal(bRtcp.received[0]!.data[1], 201, "the caller's muxed RTCP reaches the callee's RTCP port");
      await send(bRtcp, rtcpRr(0xb), audioPort(offer.sdp) + 1, INTERNAL);
      await a.waitFor(1);
      assert.equal(a.received[0]!.port, toA, "and the callee's comes back to the caller from the RTP port");
      await relay.ng.command({ command: 'delete', 'call-id': id });
    } finally {
      a.close();
      b.close();
      bRtcp.close();
    }
  });

  it('default: offered on, and the caller gets rtcp-mux only if the callee took it', async () => {
    const id = callId();
    const offer = await relay.ng.command({
      command: 'offer',
      'call-id': id,
      'from-tag': 'da',
      sdp: partySdp(7000, { extra: ['a=rtcp-mux'] }),
    });
    assert.match(String(offer.sdp), /a=rtcp-mux/);
    const answer = await relay.ng.command({
      command: 'answer',
      'call-id': id,
      'from-tag': 'da',
      'to-tag': 'db',
      sdp: partySdp(7002),
    });
    assert.doesNotMatch(String(answer.sdp), /rtcp-mux/);
    await relay.ng.command({ command: 'delete', 'call-id': id });
  });
});
