// What the ng relay needs of SDP beyond the SIP nodes: ICE (session or media level), DTLS attributes, rtcp-mux and
// the o= address, read into the neutral description and written back only where a policy changed them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sdp } from '../../src/sdp/index.js';
import { apply, describe, rewriteBody } from '../../src/calls/index.js';

const body = [
  'v=0',
  'o=alice 7 1 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'a=ice-ufrag:sess',
  'a=ice-pwd:sessionpasswordsessionpass',
  'a=fingerprint:sha-256 AB:CD',
  'a=setup:actpass',
  'm=audio 40000 RTP/SAVP 0',
  'a=rtcp-mux',
  'a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
  'm=video 40010 RTP/AVP 96',
  'a=ice-ufrag:own',
  'a=ice-pwd:ownpasswordownpasswordown',
  'a=ice-options:trickle',
  'a=candidate:2 1 UDP 1 192.0.2.10 40010 typ host',
  'a=rtcp:40011',
  '',
].join('\r\n');

test('describe reads ICE from the m= section or the session, DTLS, rtcp-mux and the o= address', () => {
  const d = describe(Sdp.parse(body));
  assert.equal(d.origin, '192.0.2.10');
  assert.equal(d.iceLite, undefined);
  assert.deepEqual(d.streams[0]!.ice, {
    ufrag: 'sess',
    pwd: 'sessionpasswordsessionpass',
    candidates: ['1 1 UDP 2130706431 192.0.2.10 40000 typ host'],
  });
  assert.deepEqual(d.streams[1]!.ice, {
    ufrag: 'own',
    pwd: 'ownpasswordownpasswordown',
    options: 'trickle',
    candidates: ['2 1 UDP 1 192.0.2.10 40010 typ host'],
  });
  assert.deepEqual(d.streams[0]!.dtls, { setup: 'actpass', fingerprints: ['sha-256 AB:CD'] });
  assert.equal(d.streams[0]!.rtcpMux, true);
  assert.equal(d.streams[1]!.rtcpMux, false);
  assert.equal(rewriteBody(Buffer.from(body), (x) => x).toString(), body, 'nothing changed: byte for byte');
});

test('removing ICE and DTLS clears both levels; rtcp-mux, a=rtcp and o= are written where they changed', () => {
  const out = rewriteBody(Buffer.from(body), (d) => ({
    ...d,
    origin: '198.51.100.1',
    streams: d.streams.map((s) => ({
      ...s,
      ice: undefined,
      dtls: undefined,
      rtcpMux: !s.rtcpMux,
      address: '198.51.100.1',
      port: s.port + 2,
      rtcpPort: s.index === 1 ? s.port + 2 : undefined,
    })),
  })).toString();
  assert.doesNotMatch(out, /ice-|candidate|fingerprint|setup/);
  assert.match(out, /^o=alice 7 1 IN IP4 198\.51\.100\.1\r$/m);
  assert.match(out, /m=audio 40002 RTP\/SAVP 0\r\n(?!a=rtcp-mux)/);
  assert.match(out, /m=video 40012 RTP\/AVP 96\r\na=rtcp:40012 IN IP4 198\.51\.100\.1\r\na=rtcp-mux\r\n$/);
  assert.match(out, /a=crypto:1 AES_CM_128_HMAC_SHA1_80/, 'what the policy did not touch stays');
});

test('new ICE credentials and candidates are written per m= section, and ice-lite at the session', () => {
  const sdp = Sdp.parse(body);
  const before = describe(sdp);
  const ice = (port: number) => ({
    ufrag: 'relay',
    pwd: 'relaypasswordrelaypassword',
    candidates: [`r 1 UDP 2130706431 198.51.100.1 ${port} typ host`],
  });
  apply(sdp, before, { ...before, iceLite: true, streams: before.streams.map((s) => ({ ...s, ice: ice(s.port) })) });
  const again = describe(Sdp.parse(sdp.toString()));
  assert.equal(again.iceLite, true);
  assert.deepEqual(
    again.streams.map((s) => s.ice),
    [ice(40000), ice(40010)],
  );
  assert.doesNotMatch(
    sdp.toString().split('m=')[0]!,
    /ice-ufrag|ice-pwd/,
    'no session-level credentials left to contradict the media',
  );
});
