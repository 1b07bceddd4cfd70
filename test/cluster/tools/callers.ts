// Remote clients that call the inside's desk phone with SRTP both ways, as a process in the internet namespace: client
// i registers through edge i mod n and sends INVITE sip:desk@example.com with its SDES key; once answered it sends
// SRTP (werift, not libsrtp) every 20 ms where the answer points and decrypts what comes back. The desk phone echoes
// it, so what returns crossed core both ways; the longest silence between two packets back is each call's media gap.
// stdout: {"event":"answered","user":"u3","callId":…,"status":200} per call. stdin: {"id":1,"report":true} answers
// {"id":1,"calls":[{user,callId,sent,received,failed,lastMs,maxGapMs}]} (lastMs: since the last packet back);
// {"id":2,"mark":true} starts the longest silence afresh (answers {"id":2,"marked":n}); {"id":3,"bye":true} ends every call with a BYE and answers
// {"id":3,"byes":[{user,status}]}.
//   argv: caFile count edges(host:port,…) localAddress
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import { SipClient } from '../../../src/lab/sip-client.js';
import type { SipResponse } from '../../../src/sip/message/index.js';
import { Sdp, parseCrypto } from '../../../src/sdp/index.js';
import { rtpPacket } from '../../../src/lab/rtp-packet.js';

const [caFile, count, list, local] = process.argv.slice(2) as [string, string, string, string];
const ca = readFileSync(caFile, 'utf8');
const edges = list
  .split(',')
  .map((e) => ({ host: e.slice(0, e.lastIndexOf(':')), port: Number(e.slice(e.lastIndexOf(':') + 1)) }));
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

interface Call {
  user: string;
  client: SipClient;
  socket: dgram.Socket;
  ok?: SipResponse;
  to?: { address: string; port: number };
  srtp?: SrtpSession;
  seq: number;
  ssrc: number;
  sent: number;
  received: number;
  failed: number;
  last: number;
  maxGap: number;
  ended: boolean;
}
const calls: Call[] = [];

async function call(i: number): Promise<void> {
  const user = `u${i}`;
  const edge = edges[i % edges.length]!;
  const client = new SipClient({
    host: edge.host,
    port: edge.port,
    ca,
    servername: 'edge.example.com',
    user,
    password: 'pw',
    domain: 'example.com',
    expiresS: 600,
  });
  const socket = dgram.createSocket('udp4');
  socket.bind(0, local);
  await once(socket, 'listening');
  const c: Call = {
    user,
    client,
    socket,
    seq: 1,
    ssrc: 0xca110000 + i,
    sent: 0,
    received: 0,
    failed: 0,
    last: 0,
    maxGap: 0,
    ended: false,
  };
  calls.push(c);
  socket.on('message', (data) => {
    try {
      c.srtp?.decrypt(data);
    } catch {
      c.failed++;
      return;
    }
    const now = Date.now();
    if (c.last) c.maxGap = Math.max(c.maxGap, now - c.last);
    c.last = now;
    c.received++;
  });
  await client.connect();
  await client.register();
  const key = randomBytes(30);
  const offer = [
    'v=0',
    `o=${user} 1 1 IN IP4 ${local}`,
    's=-',
    `c=IN IP4 ${local}`,
    't=0 0',
    `m=audio ${socket.address().port} RTP/SAVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key.toString('base64')}`,
    '',
  ].join('\r\n');
  const r = await client.request('INVITE', 'sip:desk@example.com', offer, 'application/sdp');
  out({ event: 'answered', user, callId: r.response?.callId(), status: r.status });
  if (r.status !== 200 || !r.response) return;
  const m = Sdp.parse(r.response.body).media[0]!;
  const theirs = parseCrypto(m.attributes('crypto')[0]!, 'answer');
  client.ack('sip:desk@example.com', r.response);
  c.ok = r.response;
  c.to = { address: m.address, port: m.port };
  c.srtp = new SrtpSession({
    profile: ProtectionProfileAes128CmHmacSha1_80,
    keys: {
      localMasterKey: key.subarray(0, 16),
      localMasterSalt: key.subarray(16),
      remoteMasterKey: theirs.keySalt.subarray(0, 16),
      remoteMasterSalt: theirs.keySalt.subarray(16),
    },
  });
}

setInterval(() => {
  for (const c of calls) {
    if (!c.srtp || !c.to || c.ended) continue;
    const p = RtpPacket.deSerialize(rtpPacket(c.seq++, c.ssrc, { fill: c.seq & 0xff }));
    c.socket.send(c.srtp.encrypt(p.payload, p.header), c.to.port, c.to.address);
    c.sent++;
  }
}, 20);

for (let i = 0; i < Number(count); i++)
  void call(i).catch((err: Error) => out({ event: 'answered', user: `u${i}`, status: 0, error: err.message }));

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { id: number; report?: boolean; mark?: boolean; bye?: boolean };
  if (cmd.mark) {
    for (const c of calls) c.maxGap = 0;
    out({ id: cmd.id, marked: calls.length });
  }
  if (cmd.report) {
    const now = Date.now();
    out({
      id: cmd.id,
      calls: calls.map((c) => ({
        user: c.user,
        callId: c.ok?.callId(),
        sent: c.sent,
        received: c.received,
        failed: c.failed,
        lastMs: c.last ? now - c.last : null,
        maxGapMs: c.maxGap,
      })),
    });
  }
  if (cmd.bye)
    void Promise.all(
      calls.map(async (c) => {
        c.ended = true;
        const r = c.ok ? await c.client.inDialog('BYE', c.ok) : { status: 0 };
        return { user: c.user, status: r.status };
      }),
    ).then((byes) => out({ id: cmd.id, byes }));
});
process.stdin.on('end', () => {
  for (const c of calls) {
    c.client.close();
    c.socket.close();
  }
  process.exit(0);
});
