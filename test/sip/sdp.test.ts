// SDP as calls need it: what parses, what is refused (and why), and that what is not rewritten comes out byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sdp, SdpError, parseCrypto, formatCrypto, MAX_MEDIA } from '../../src/sdp/index.js';

const JABBER = [
  'v=0',
  'o=Cisco-SIPUA 24601 0 IN IP4 10.1.2.3',
  's=SIP Call',
  'b=AS:4064',
  't=0 0',
  'm=audio 26436 RTP/SAVP 114 9 124 0 8 101',
  'c=IN IP4 10.1.2.3',
  'b=TIAS:64000',
  'a=rtpmap:114 opus/48000/2',
  'a=fmtp:114 maxplaybackrate=16000;sprop-maxcapturerate=16000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=crypto:1 AEAD_AES_128_GCM inline:zpNbcqcBdJ8t5NqkXmUrqk53tP7A4aIqp4Ba/w==',
  'a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^31|1:1',
  'a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj',
  'a=rtcp:26437',
  'a=sendrecv',
  'a=ssrc:1234 cname:x@y',
  'm=video 0 RTP/SAVP 126',
  'c=IN IP4 10.1.2.3',
  '',
].join('\r\n');

test('a Jabber-like offer parses: streams, addresses, attributes, crypto lines with and without lifetime/MKI', () => {
  const sdp = Sdp.parse(Buffer.from(JABBER, 'latin1'));
  assert.equal(sdp.media.length, 2);
  const [audio, video] = sdp.media;
  assert.deepEqual(
    [audio!.media, audio!.port, audio!.proto, audio!.formats, audio!.address],
    ['audio', 26436, 'RTP/SAVP', ['114', '9', '124', '0', '8', '101'], '10.1.2.3'],
  );
  assert.equal(audio!.rtcpPort, 26437);
  assert.equal(audio!.rtcpMux, false);
  assert.equal(video!.disabled, true);
  const cryptos = audio!.attributes('crypto').map((v, i) => parseCrypto(v, `crypto ${i}`));
  assert.deepEqual(
    cryptos.map((c) => [c.tag, c.suite, c.keySalt.length, c.unsupportedParams]),
    [
      [1, 'AEAD_AES_128_GCM', 28, false],
      [2, 'AES_CM_128_HMAC_SHA1_80', 30, true],
      [3, 'AES_CM_128_HMAC_SHA1_80', 30, false],
    ],
  );
  assert.equal(sdp.toString(), JABBER, 'nothing rewritten: the same bytes');
});

test('rewrites touch only m=, c= and a=rtcp (and the crypto lines asked for); every other line stays as it was', () => {
  const sdp = Sdp.parse(JABBER);
  const audio = sdp.media[0]!;
  audio.setTransport('192.0.2.1', 40000, 'RTP/AVP');
  audio.removeAttributes('crypto');
  const out = sdp.toString().split('\r\n');
  const before = JABBER.split('\r\n');
  assert.ok(out.includes('m=audio 40000 RTP/AVP 114 9 124 0 8 101'));
  assert.ok(out.includes('c=IN IP4 192.0.2.1'));
  assert.ok(out.includes('a=rtcp:40001 IN IP4 192.0.2.1'));
  assert.ok(!out.some((l) => l.startsWith('a=crypto')));
  const untouched = before.filter((l) => !/^(m=audio|c=|a=rtcp:|a=crypto)/.test(l));
  assert.deepEqual(
    out.filter((l) => untouched.includes(l)),
    untouched,
    'the rest in order, unchanged',
  );
  audio.addAttribute('crypto', formatCrypto(1, 'AES_CM_128_HMAC_SHA1_80', Buffer.alloc(30, 7)));
  assert.match(sdp.toString(), /a=ssrc:1234 cname:x@y\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:BwcH/);
});

test('odd but valid: LF line ends, no final newline, session-level c= only, trailing blank line, a flag attribute, port/1', () => {
  const lf = 'v=0\no=- 1 1 IN IP4 192.0.2.9\ns=\nc=IN IP4 192.0.2.9/127\nt=0 0\nm=audio 5004/1 RTP/AVP 0\na=rtcp-mux';
  const sdp = Sdp.parse(lf);
  assert.equal(sdp.media[0]!.address, '192.0.2.9');
  assert.equal(sdp.media[0]!.rtcpMux, true);
  assert.equal(sdp.toString(), lf);
  sdp.media[0]!.addAttribute('crypto', 'x');
  assert.equal(sdp.toString(), `${lf}\na=crypto:x`, 'the added line keeps LF and the body still ends unterminated');
  sdp.setSessionAddress('198.51.100.1');
  assert.match(sdp.toString(), /\nc=IN IP4 198\.51\.100\.1\n/);
  const blank =
    'v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\nc=IN IP4 192.0.2.9\r\n\r\n';
  assert.equal(Sdp.parse(blank).toString(), blank);
  assert.equal(
    Sdp.parse('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n').media.length,
    0,
    'no media at all is valid',
  );
});

test('bad SDP is an SdpError naming the fault, never anything else', () => {
  const base = (media: string, session = 'c=IN IP4 192.0.2.9\r\n') =>
    `v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\n${session}t=0 0\r\n${media}`;
  const cases: Array<[string, RegExp]> = [
    ['', /empty SDP body/],
    ['v=1\r\n', /first line is not v=0/],
    [base('m=audio 5004 RTP/AVP 0\r\nnot a line\r\n'), /line 7 is not <type>=<value>/],
    ['v=0\r\ns=-\r\nt=0 0\r\n', /no o= line/],
    [base('m=audio 5004 RTP/AVP\r\n'), /m= line 1: malformed/],
    [base('m=audio 70000 RTP/AVP 0\r\n'), /port out of range/],
    [base('m=audio 5004/2 RTP/AVP 0\r\n'), /port ranges/],
    [base('m=audio 5004 RTP/AVP 0\r\n', ''), /no c= line/],
    [base('m=audio 5004 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\n'), /IPv6 media is not supported/],
    [base('m=audio 5004 RTP/AVP 0\r\nc=IN IP4 media.example.com\r\n'), /must be an IPv4 address/],
    [base('m=audio 5004 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n'), /more than one c= line/],
    [
      base('m=audio 5004 RTP/AVP 0\r\n', 'c=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n'),
      /more than one session-level c= line/,
    ],
    [base('m=audio 5004 RTP/AVP 0\rc=IN IP4 192.0.2.1\r\n'), /bare CR/],
    [base('m=audio 5004 RTP/AVP 0\r\n'.repeat(MAX_MEDIA + 1)), /more than 16 m= lines/],
  ];
  for (const [body, why] of cases)
    assert.throws(
      () => Sdp.parse(body),
      (err: unknown) => err instanceof SdpError && why.test((err as Error).message),
      JSON.stringify(body),
    );
  for (const bad of [
    '1 AES_CM_128_HMAC_SHA1_80',
    'x AES_CM_128_HMAC_SHA1_80 inline:AAAA',
    '1 AES_CM_128_HMAC_SHA1_80 inline:@@@@',
  ]) {
    assert.throws(() => parseCrypto(bad, 'm= line 1'), SdpError, bad);
  }
});
