// A pcap of one RTP stream for sipp's play_pcap_audio (libpcap file format, Ethernet link type): sipp replays each
// packet's UDP payload at the capture's own pace, from its media port to the port the far end's SDP names, so what a
// pcap holds is what the far end must count. Debian's sip-tester ships G.711 A-law (7 s) and one RFC 4733 pcap per
// digit under /usr/share/sip-tester; a test that wants a stream of a known length writes its own.
import { writeFileSync } from 'node:fs';
import { rtpPacket } from '../../src/lab/rtp-packet.js';

/** Where Debian's sip-tester puts its pcaps (dtmf_2833_<digit>.pcap: 10 telephone-event packets, payload type 101). */
export const SIPP_PCAPS = '/usr/share/sip-tester';

/** `count` RTP packets of `payloadBytes` (PCMU by default: 160 bytes every 20 ms) under one SSRC, as a pcap file. */
export function writeRtpPcap(
  file: string,
  opts: { count: number; ssrc: number; pt?: number; payloadBytes?: number; intervalMs?: number },
): void {
  const payloadBytes = opts.payloadBytes ?? 160;
  const intervalMs = opts.intervalMs ?? 20;
  const records: Buffer[] = [];
  // Global header: magic, version 2.4, GMT offset 0, accuracy 0, snaplen, link type 1 (Ethernet).
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20);
  records.push(global);
  for (let i = 0; i < opts.count; i++) {
    const rtp = rtpPacket(i + 1, opts.ssrc, {
      pt: opts.pt ?? 0,
      size: 12 + payloadBytes,
      ts: (i + 1) * payloadBytes,
      fill: 0x55 + (i % 64),
    });
    // Ethernet (addresses unused by sipp), IPv4 (sipp takes only the UDP part), UDP with ports sipp rewrites.
    const frame = Buffer.alloc(14 + 20 + 8 + rtp.length);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(20 + 8 + rtp.length, 16);
    frame[22] = 64;
    frame[23] = 17;
    frame.set([192, 0, 2, 1], 26);
    frame.set([192, 0, 2, 2], 30);
    frame.writeUInt16BE(40000, 34);
    frame.writeUInt16BE(40002, 36);
    frame.writeUInt16BE(8 + rtp.length, 38);
    rtp.copy(frame, 42);
    const header = Buffer.alloc(16);
    const at = i * intervalMs;
    header.writeUInt32LE(Math.floor(at / 1000), 0);
    header.writeUInt32LE((at % 1000) * 1000, 4);
    header.writeUInt32LE(frame.length, 8);
    header.writeUInt32LE(frame.length, 12);
    records.push(header, frame);
  }
  writeFileSync(file, Buffer.concat(records));
}
