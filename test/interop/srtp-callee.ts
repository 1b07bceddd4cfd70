// A SIP callee over UDP that speaks SRTP (SDES, AES_CM_128_HMAC_SHA1_80) with werift: it answers an INVITE with
// RTP/SAVP and its own key under the tag the offer gave that suite, decrypts what arrives with the offer's key,
// and after the ACK sends `count` SRTP packets back. Enough SIP for a proxy's INVITE, ACK and BYE, nothing more.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';
import { rtpPacket } from '../../src/lab/rtp-packet.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80';

export class SrtpCallee {
  readonly sip: Socket = createSocket('udp4');
  readonly media: Socket = createSocket('udp4');
  /** Packets that arrived, and those that decrypted under the offer's key (with their payloads). */
  received = 0;
  decrypted: Buffer[] = [];
  offer = '';
  #session: SrtpSession | undefined;
  #remote: { address: string; port: number } | undefined;
  readonly #key = randomBytes(30);

  constructor(private readonly count: number) {}

  async start(): Promise<void> {
    this.sip.bind(0, '127.0.0.1');
    this.media.bind(0, '127.0.0.1');
    await Promise.all([once(this.sip, 'listening'), once(this.media, 'listening')]);
    this.sip.on('message', (m, r) => this.#onSip(m.toString('latin1'), r.address, r.port));
    this.media.on('message', (m) => {
      this.received++;
      try {
        this.decrypted.push(RtpPacket.deSerialize(this.#session!.decrypt(m)).payload);
      } catch {
        // counted as received, not decrypted
      }
    });
  }

  get sipPort(): number {
    return this.sip.address().port;
  }

  #onSip(text: string, address: string, port: number): void {
    const [head = '', body = ''] = text.split('\r\n\r\n');
    const lines = head.split('\r\n');
    const method = lines[0]!.split(' ')[0];
    const headers = (name: string) => lines.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    const reply = (status: string, extra: string[] = [], sdp = '') => {
      const to = headers('To')[0]!;
      const msg = [
        `SIP/2.0 ${status}`,
        ...headers('Via'),
        ...headers('Record-Route'),
        ...headers('From'),
        to.includes('tag=') ? to : `${to};tag=callee1`,
        ...headers('Call-ID'),
        ...headers('CSeq'),
        ...extra,
        `Content-Length: ${Buffer.byteLength(sdp)}`,
        '',
        sdp,
      ].join('\r\n');
      this.sip.send(msg, port, address);
    };
    if (method === 'INVITE') {
      this.offer = body;
      const crypto = new RegExp(`^a=crypto:(\\d+) ${SUITE} inline:(\\S+)`, 'm').exec(body);
      const c = /^c=IN IP4 (\S+)/m.exec(body)?.[1];
      const m = /^m=audio (\d+)/m.exec(body)?.[1];
      if (!crypto || !c || !m) return reply('488 Not Acceptable Here');
      const relayKey = Buffer.from(crypto[2]!, 'base64');
      this.#remote = { address: c, port: Number(m) };
      this.#session = new SrtpSession({
        keys: {
          localMasterKey: this.#key.subarray(0, 16),
          localMasterSalt: this.#key.subarray(16),
          remoteMasterKey: relayKey.subarray(0, 16),
          remoteMasterSalt: relayKey.subarray(16),
        },
        profile: ProtectionProfileAes128CmHmacSha1_80,
      });
      const sdp = [
        'v=0',
        'o=- 1 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${this.media.address().port} RTP/SAVP 0`,
        'a=rtpmap:0 PCMU/8000',
        `a=crypto:${crypto[1]} ${SUITE} inline:${this.#key.toString('base64')}`,
        'a=sendrecv',
        '',
      ].join('\r\n');
      reply('200 OK', [`Contact: <sip:callee@127.0.0.1:${this.sipPort}>`, 'Content-Type: application/sdp'], sdp);
    } else if (method === 'ACK') {
      void this.#play();
    } else if (method === 'BYE') {
      reply('200 OK');
    }
  }

  async #play(): Promise<void> {
    for (let i = 0; i < this.count; i++) {
      const p = RtpPacket.deSerialize(rtpPacket(i, 0xca11ee, { ts: i * 160, fill: 0x55 }));
      this.media.send(this.#session!.encrypt(p.payload, p.header), this.#remote!.port, this.#remote!.address);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.sip.close();
    this.media.close();
  }
}
