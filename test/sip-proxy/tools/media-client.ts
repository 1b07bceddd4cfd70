// A remote client with SRTP as a process (for the internet namespace): registers, answers an INVITE with its own
// SDES key and socket, decrypts what arrives with the key core offered (werift, not libsrtp) and reports it, and
// sends SRTP of its own on command. stdin: {"send":5} sends that many SRTP packets to the edge's port.
//   argv: host port caFile user password domain localAddress
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import { SipClient } from '../../../src/lab/sip-client.js';
import { Sdp, parseCrypto } from '../../../src/sdp/index.js';
import { rtpPacket } from '../../../src/lab/rtp-packet.js';

const [host, port, caFile, user, password, domain, local] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const socket = dgram.createSocket('udp4');
socket.bind(0, local);
await once(socket, 'listening');
const key = randomBytes(30);
let session: SrtpSession | undefined;
let edge: { address: string; port: number } | undefined;
let decrypted = 0;
let seq = 1;
socket.on('message', (data, from) => {
  try {
    const plain = session!.decrypt(data);
    out({ event: 'srtp', decrypted: ++decrypted, from: `${from.address}:${from.port}`, ssrc: plain.readUInt32BE(8) });
  } catch (err) {
    out({ event: 'srtp-error', message: (err as Error).message });
  }
});
const client = new SipClient({
  host,
  port: Number(port),
  ca: readFileSync(caFile, 'utf8'),
  user,
  password,
  domain,
  expiresS: 600,
  answer: (req) => {
    if (req.method !== 'INVITE') return 200;
    const m = Sdp.parse(req.body).media[0]!;
    const offered = parseCrypto(m.attributes('crypto')[0]!, 'offer');
    edge = { address: m.address, port: m.port };
    session = new SrtpSession({
      profile: ProtectionProfileAes128CmHmacSha1_80,
      keys: {
        localMasterKey: key.subarray(0, 16),
        localMasterSalt: key.subarray(16),
        remoteMasterKey: offered.keySalt.subarray(0, 16),
        remoteMasterSalt: offered.keySalt.subarray(16),
      },
    });
    out({ event: 'offer', proto: m.proto, address: m.address, port: m.port, suite: offered.suite });
    return {
      status: 200,
      body: `v=0\r\no=- 1 1 IN IP4 ${local}\r\ns=-\r\nc=IN IP4 ${local}\r\nt=0 0\r\nm=audio ${socket.address().port} RTP/SAVP 0\r\na=crypto:${offered.tag} ${offered.suite} inline:${key.toString('base64')}\r\n`,
    };
  },
});
try {
  await client.connect();
  out({ event: 'registered', status: (await client.register()).status });
} catch (err) {
  out({ event: 'error', message: (err as Error).message });
}
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { send?: number };
  for (let i = 0; i < (cmd.send ?? 0) && session && edge; i++) {
    const p = RtpPacket.deSerialize(rtpPacket(seq++, 0xc11e0001, { fill: 0x7f }));
    socket.send(session.encrypt(p.payload, p.header), edge.port, edge.address);
  }
  out({ event: 'sent', count: cmd.send ?? 0 });
});
process.stdin.on('end', () => {
  client.close();
  socket.close();
  process.exit(0);
});
