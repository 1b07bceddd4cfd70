// SDP into the call model and back: describe() reads neutral streams, apply() writes back only what a policy changed,
// a body nobody changed comes out byte for byte, and SDP a call cannot use is refused with the line named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sdp, SdpError, SdpSyntaxError } from '../../src/sdp/index.js';
import { apply, describe, rewriteBody, moved } from '../../src/calls/index.js';

const KEY = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
const body = [
  'v=0',
  'o=- 7 1 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'a=sendrecv',
  'm=audio 40000 RTP/SAVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtcp:40001',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`,
  'a=x-vendor:kept',
  'm=video 40010 RTP/AVPF 96',
  'c=IN IP4 192.0.2.11',
  'a=rtpmap:96 H264/90000',
  'a=rtcp-mux',
  'a=sendonly',
  'm=application 5070 UDP/BFCP *',
  'a=floorctrl:c-s',
  '',
].join('\r\n');

test('describe reads each m= line into a neutral stream: address, port, proto, formats, RTCP, direction, a=crypto as written', () => {
  const d = describe(Sdp.parse(body));
  assert.equal(d.address, '192.0.2.10');
  assert.deepEqual(
    d.streams.map((s) => [s.index, s.media, s.address, s.port, s.proto, s.direction]),
    [
      [0, 'audio', '192.0.2.10', 40000, 'RTP/SAVP', 'sendrecv'],
      [1, 'video', '192.0.2.11', 40010, 'RTP/AVPF', 'sendonly'],
      [2, 'application', '192.0.2.10', 5070, 'UDP/BFCP', 'sendrecv'],
    ],
  );
  assert.deepEqual(d.streams[0]!.formats, ['0', '101']);
  assert.equal(d.streams[0]!.rtcpPort, 40001);
  assert.equal(d.streams[1]!.rtcpMux, true);
  assert.deepEqual(d.streams[0]!.crypto, [`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`]);
  assert.deepEqual(d.streams[1]!.crypto, []);
  // Plain data: it survives a JSON round trip as it is.
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
});

test('a description nobody changed writes the body back byte for byte', () => {
  assert.equal(rewriteBody(Buffer.from(body, 'latin1'), (d) => d).toString('latin1'), body);
});

test('apply writes only what changed: the stream moved and re-keyed, a direction, the session address; the rest untouched', () => {
  const sdp = Sdp.parse(body);
  const before = describe(sdp);
  const out = structuredClone(before);
  out.address = '198.18.1.2';
  out.streams[0] = { ...moved(before.streams[0]!, '198.18.1.2', 36012, 'RTP/AVP'), crypto: [] };
  out.streams[1] = { ...before.streams[1]!, direction: 'inactive' };
  out.streams[2] = moved(before.streams[2]!, '198.18.1.2', 0);
  apply(sdp, before, out);
  const text = sdp.toString();
  assert.match(text, /\r\nc=IN IP4 198\.18\.1\.2\r\n/);
  assert.match(text, /\r\nm=audio 36012 RTP\/AVP 0 101\r\n/);
  assert.match(text, /\r\na=rtcp:36013 IN IP4 198\.18\.1\.2\r\n/, 'RTCP follows the stream');
  assert.doesNotMatch(text, /a=crypto/);
  assert.match(text, /a=x-vendor:kept/, 'what the policy did not touch stays');
  assert.match(
    text,
    /m=video 40010 RTP\/AVPF 96\r\nc=IN IP4 192\.0\.2\.11\r\na=rtpmap:96 H264\/90000\r\na=rtcp-mux\r\na=inactive\r\n/,
  );
  assert.doesNotMatch(text, /a=sendonly/);
  assert.match(text, /m=application 0 UDP\/BFCP \*/);
  // What comes out reads back as what was decided.
  const again = describe(Sdp.parse(text));
  assert.deepEqual(
    again.streams.map((s) => [s.port, s.proto, s.direction, s.crypto.length]),
    [
      [36012, 'RTP/AVP', 'sendrecv', 0],
      [40010, 'RTP/AVPF', 'inactive', 0],
      [0, 'UDP/BFCP', 'sendrecv', 0],
    ],
  );
});

test('SDP a call cannot use is refused with an SdpError that names the line; malformed SDP is an SdpSyntaxError, unusable SDP not', () => {
  const refused = (text: string, why: RegExp, syntax: boolean) =>
    assert.throws(
      () => rewriteBody(Buffer.from(text), (d) => d),
      (e: unknown) => e instanceof SdpError && e instanceof SdpSyntaxError === syntax && why.test((e as Error).message),
    );
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0'];
  refused([...head, 'm=audio 4000 RTP/AVP 0', ''].join('\r\n'), /m= line 1: no c= line/, true);
  refused(
    [...head, 'c=IN IP6 2001:db8::1', 'm=audio 4000 RTP/AVP 0', ''].join('\r\n'),
    /IPv6 media is not supported/,
    false,
  );
  refused(
    [...head, 'c=IN IP4 192.0.2.1', 'm=audio 4000/2 RTP/AVP 0', ''].join('\r\n'),
    /m= line 1: port ranges are not supported/,
    false,
  );
  refused(
    [...head, 'c=IN IP4 192.0.2.1', 'm=audio 4000 RTP/AVP 0', 'm=video 99999 RTP/AVP 96', ''].join('\r\n'),
    /m= line 2: port out of range/,
    true,
  );
  refused([...head, 'c=IN IP4 192.0.2.1', 'm=audio RTP/AVP', ''].join('\r\n'), /m= line 1: malformed/, true);
  refused([...head, 'c=IN IP4', 'm=audio 4000 RTP/AVP 0', ''].join('\r\n'), /session: malformed c= line/, true);
  refused(
    [...head, 'c=IN IP4 192.0.2.1', 'm=audio 4000 RTP/AVP 0', 'garbage', ''].join('\r\n'),
    /line 7 is not <type>=<value>/,
    true,
  );
  refused(['o=- 1 1 IN IP4 192.0.2.1', 's=-', ''].join('\r\n'), /first line is not v=0/, true);
  // The subclass's own test: an SdpError is not taken for a syntax error.
  assert.equal(new SdpError('x') instanceof SdpSyntaxError, false);
  assert.equal(new SdpSyntaxError('x') instanceof SdpError, true);
});

test('a policy that changes its copy cannot change what apply compares against', () => {
  const out = rewriteBody(Buffer.from(body, 'latin1'), (d) => {
    d.streams[0]!.port = 41000;
    return d;
  });
  assert.match(out.toString('latin1'), /m=audio 41000 RTP\/SAVP 0 101/);
});
