// A remote client with SRTP as a process (for the internet namespace), driven by JSON lines on stdin, reporting as
// JSON lines on stdout: the far end of the sipp flows (test/interop/sipp-flows.test.ts). It speaks the lab client's SIP
// over TLS to the edge, offers and answers RTP/SAVP with its own SDES key (werift's SRTP, not libsrtp), decrypts what
// the edge sends under core's key and counts it by payload type, and tells apart what comes back of its own (sipp's
// RTP echo of the client's packets, by SSRC).
//   argv: host port caFile user password domain localAddress
// stdin:  {"id":1,"op":"register"} | {"op":"answer","mode":"accept"|"early"|"busy"|"ring"}
//         {"op":"call","uri":"sip:…","delayed":true (no SDP: the offer comes in a reliable 18x, answered in the PRACK)}
//         {"op":"reinvite","direction":"sendonly"} | {"op":"update","bare":true} | {"op":"info"} | {"op":"bye"}
//         {"op":"cancel"}
//         {"op":"send","count":20} | {"op":"talk","on":true} | {"op":"stats","reset":true}
// stdout: each command's outcome with its id ({"event":"result"|"final"|"stats","id":1,…}), and as they happen:
//         {"event":"offer"} (an offer from the inside, answered), {"event":"provisional"}, {"event":"request"}
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import { SipClient, type SipResult } from '../../../src/lab/sip-client.js';
import { Sdp, parseCrypto } from '../../../src/sdp/index.js';
import { rtpPacket } from '../../../src/lab/rtp-packet.js';
import type { SipRequest, SipResponse } from '../../../src/sip/message/index.js';

const [host, port, caFile, user, password, domain, local] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const SUITE = 'AES_CM_128_HMAC_SHA1_80';
const OWN_SSRC = 0xc11e0001;
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const socket = dgram.createSocket('udp4');
socket.bind(0, local);
await once(socket, 'listening');
const mediaPort = socket.address().port;
const key = randomBytes(30);

/** What the client knows of the call's media: core's key (for what it receives) and the edge's port (where it sends). */
let session: SrtpSession | undefined;
let remoteKey = '';
let edge: { address: string; port: number } | undefined;
const received = { byPt: {} as Record<string, number>, echoed: 0, errors: 0, firstErrors: [] as string[] };
/** A packet that did not decrypt: counted, and the first few described (its header is in the clear) for the test to show. */
function undecryptable(data: Buffer, why: string): void {
  received.errors++;
  if (received.firstErrors.length < 5)
    received.firstErrors.push(
      `${data.length} bytes, pt ${data[1]! & 0x7f}, ssrc ${data.readUInt32BE(8).toString(16)}, seq ${data.readUInt16BE(2)}: ${why}`,
    );
}
let seq = 1;
socket.on('message', (data) => {
  // Shorter than an RTP header: a keepalive (RFC 6263), not media.
  if (data.length < 12) return;
  if (!session) return undecryptable(data, 'no key yet');
  try {
    const p = RtpPacket.deSerialize(session.decrypt(data));
    if (p.header.ssrc === OWN_SSRC) received.echoed++;
    else received.byPt[p.header.payloadType] = (received.byPt[p.header.payloadType] ?? 0) + 1;
  } catch (err) {
    undecryptable(data, (err as Error).message);
  }
});
const decrypted = () => Object.values(received.byPt).reduce((a, b) => a + b, 0);

/** Learns the far side's media from an SDP body: where to send, and core's key (a new session only when it changed). */
function learn(body: Buffer): { direction: string; address: string; port: number; proto: string; key: string } {
  const m = Sdp.parse(body).media[0]!;
  const crypto = parseCrypto(m.attributes('crypto')[0]!, 'sdp');
  edge = { address: m.address, port: m.port };
  const k = crypto.keySalt.toString('base64');
  if (k !== remoteKey) {
    remoteKey = k;
    session = new SrtpSession({
      profile: ProtectionProfileAes128CmHmacSha1_80,
      keys: {
        localMasterKey: key.subarray(0, 16),
        localMasterSalt: key.subarray(16),
        remoteMasterKey: crypto.keySalt.subarray(0, 16),
        remoteMasterSalt: crypto.keySalt.subarray(16),
      },
    });
  }
  const direction = ['sendonly', 'recvonly', 'inactive'].find((d) => m.hasAttribute(d)) ?? 'sendrecv';
  return { direction, address: m.address, port: m.port, proto: m.proto, key: k };
}

/** This client's SDP: PCMU and telephone-event over RTP/SAVP at its socket, with its key under `tag`. */
const sdp = (direction: string, tag = 1) =>
  [
    'v=0',
    `o=- 1 ${seq} IN IP4 ${local}`,
    's=-',
    `c=IN IP4 ${local}`,
    't=0 0',
    `m=audio ${mediaPort} RTP/SAVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    `a=${direction}`,
    `a=crypto:${tag} ${SUITE} inline:${key.toString('base64')}`,
    '',
  ].join('\r\n');
const ANSWER_DIRECTION: Record<string, string> = {
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
  sendrecv: 'sendrecv',
};

let mode: 'accept' | 'early' | 'busy' | 'ring' = 'accept';
/** Whether the call's direction lets this client send (not while it is held, nor with a=inactive). */
let sending = true;
const client = new SipClient({
  host,
  port: Number(port),
  ca: readFileSync(caFile, 'utf8'),
  user,
  password,
  domain,
  expiresS: 600,
  answer: (req) => {
    const timer = req.header('session-expires');
    // RFC 4028: a UAS that supports timers names the interval in its 2xx, which arms core's timer for the refresh.
    const headers: Array<[string, string]> = timer
      ? [
          ['Session-Expires', timer],
          ['Require', 'timer'],
        ]
      : [];
    const fresh = req.method === 'INVITE' && !tagged(req);
    if (fresh && (mode === 'busy' || mode === 'ring'))
      return mode === 'busy' ? 486 : { status: 487, early: { status: 180 }, finalAfterMs: 60_000 };
    if ((req.method !== 'INVITE' && req.method !== 'UPDATE') || req.body.length === 0) return { status: 200, headers };
    const answer = { status: 200, body: answerTo(req.method, req.body), headers };
    // Early media: the answer in a 183 first, the 200 (with the same answer) 1.5 s later.
    return fresh && mode === 'early'
      ? { ...answer, early: { status: 183, body: answer.body }, finalAfterMs: 1500 }
      : answer;
  },
});
/** This client's answer to an offer from the inside (an INVITE's, an UPDATE's, a reliable 18x's), reported as it goes. */
function answerTo(method: string, body: Buffer): string {
  const offer = learn(body);
  out({ event: 'offer', method, ...offer });
  const tag = parseCrypto(Sdp.parse(body).media[0]!.attributes('crypto')[0]!, 'offer').tag;
  const direction = ANSWER_DIRECTION[offer.direction]!;
  sending = direction === 'sendrecv' || direction === 'sendonly';
  return sdp(direction, tag);
}
const tagged = (req: SipRequest) => /;\s*tag=/i.test(req.header('to') ?? '');
client.onRequest((req) => {
  if (req.method !== 'INVITE' && req.method !== 'UPDATE')
    out({ event: 'request', method: req.method, reason: req.header('reason') ?? null });
});

/** This client's last INVITE went without SDP (a delayed offer): the first reliable 18x with SDP carries the offer. */
let delayed = false;
/** The dialog this client's own INVITE formed (its 2xx, or a reliable 18x before it) and the URI it called. */
let dialog: { uri: string; res?: SipResponse } | undefined;
client.onProvisional((res) => {
  if (res.cseq().method !== 'INVITE') return;
  const reliable = /\b100rel\b/i.test(res.header('require') ?? '');
  // To an INVITE without SDP a reliable 18x's SDP is the offer, answered in the PRACK (RFC 3262 §5); else an answer.
  const offered = reliable && delayed && res.body.length > 0;
  const media = res.body.length && !offered ? learn(res.body) : undefined;
  if (dialog && !dialog.res && reliable) dialog.res = res;
  out({ event: 'provisional', status: res.status, reliable, media, decrypted: decrypted() });
  if (reliable) {
    // RFC 3262: a reliable provisional response is acknowledged by a PRACK naming its RSeq and the INVITE's CSeq.
    const rack = `${res.header('rseq')} ${res.cseq().seq} INVITE`;
    const answer = offered ? answerTo('PRACK', res.body) : '';
    if (offered) delayed = false;
    void client
      .inDialog('PRACK', res, answer, 'application/sdp', [['RAck', rack]])
      .then((r) => out({ event: 'prack', status: r.status }));
  }
});

/** One SRTP packet of the client's own (its SSRC) to the edge, once it knows where and under which key. */
function speak(): void {
  if (!session || !edge || !sending) return;
  const p = RtpPacket.deSerialize(rtpPacket(seq++, OWN_SSRC, { fill: 0x7f }));
  socket.send(session.encrypt(p.payload, p.header), edge.port, edge.address);
}
let talking: NodeJS.Timeout | undefined;

const report = (id: number, r: SipResult, extra: Record<string, unknown> = {}) =>
  out({ event: 'result', id, status: r.status, reason: r.reason, ...extra });

async function inDialog(id: number, method: string, body = '', headers: Array<[string, string]> = []) {
  if (!dialog?.res) return out({ event: 'result', id, status: 0, reason: 'no dialog' });
  const { uri, res } = dialog;
  const r = await client.inDialog(method, res, body, 'application/sdp', headers);
  const media = r.status === 200 && r.response?.body.length ? learn(r.response.body) : undefined;
  if (media) sending = media.direction === 'sendrecv' || media.direction === 'recvonly';
  if (method === 'INVITE' && r.response && r.status === 200) client.ack(uri, r.response);
  report(id, r, { media });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as {
    id: number;
    op: string;
    reset?: boolean;
    mode?: typeof mode;
    uri?: string;
    headers?: Array<[string, string]>;
    direction?: string;
    count?: number;
    on?: boolean;
    bare?: boolean;
    delayed?: boolean;
  };
  switch (cmd.op) {
    case 'register':
      void client.register().then((r) => report(cmd.id, r));
      break;
    case 'answer':
      mode = cmd.mode ?? 'accept';
      out({ event: 'result', id: cmd.id, status: 200 });
      break;
    case 'call': {
      const uri = cmd.uri!;
      // The dialog's first response is whatever answers first (a reliable 183 forms it early).
      dialog = { uri };
      sending = true;
      delayed = cmd.delayed === true;
      void client
        .request('INVITE', uri, delayed ? '' : sdp('sendrecv'), 'application/sdp', cmd.headers ?? [])
        .then((r) => {
          const media = r.status === 200 && r.response?.body.length ? learn(r.response.body) : undefined;
          out({ event: 'final', id: cmd.id, status: r.status, reason: r.reason, media, decrypted: decrypted() });
          if (r.status === 200 && r.response) {
            dialog = { uri, res: r.response };
            client.ack(uri, r.response);
          } else dialog = undefined;
        });
      break;
    }
    case 'reinvite':
      void inDialog(cmd.id, 'INVITE', sdp(cmd.direction ?? 'sendrecv'), cmd.headers);
      break;
    case 'update':
      // bare: a session refresh with no offer (RFC 4028 §7.4 allows an UPDATE without SDP).
      void inDialog(cmd.id, 'UPDATE', cmd.bare ? '' : sdp(cmd.direction ?? 'sendrecv'), cmd.headers);
      break;
    case 'info':
      void inDialog(cmd.id, 'INFO', '', cmd.headers);
      break;
    case 'bye':
      void inDialog(cmd.id, 'BYE').then(() => (dialog = undefined));
      break;
    case 'cancel':
      void client.cancel().then((r) => report(cmd.id, r));
      break;
    case 'send':
      for (let i = 0; i < (cmd.count ?? 0); i++) speak();
      out({ event: 'result', id: cmd.id, status: 200, count: cmd.count ?? 0 });
      break;
    case 'talk':
      // As a client in a call does: a packet every 20 ms, until told to stop (or killed).
      clearInterval(talking);
      if (cmd.on) talking = setInterval(speak, 20);
      out({ event: 'result', id: cmd.id, status: 200 });
      break;
    case 'stats':
      out({ event: 'stats', id: cmd.id, ...received });
      if (cmd.reset) Object.assign(received, { byPt: {}, echoed: 0, errors: 0, firstErrors: [] });
      break;
  }
});

try {
  await client.connect();
  out({ event: 'connected' });
} catch (err) {
  out({ event: 'error', message: (err as Error).message });
}
process.stdin.on('end', () => {
  clearInterval(talking);
  client.close();
  socket.close();
  process.exit(0);
});
