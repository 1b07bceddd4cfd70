/**
 * One RTP packet as the lab's phones and the tests' peers send it: version 2, no CSRC or extension, G.711-sized by
 * default (12-byte header and 160 bytes of payload, the timestamp 160 per packet).
 */
export function rtpPacket(
  seq: number,
  ssrc: number,
  opts: { ts?: number; pt?: number; size?: number; fill?: number; payload?: Buffer } = {},
): Buffer {
  const b = Buffer.alloc(opts.payload ? 12 + opts.payload.length : (opts.size ?? 172), opts.fill ?? 0xd5);
  opts.payload?.copy(b, 12);
  b[0] = 0x80;
  b[1] = opts.pt ?? 0;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((opts.ts ?? seq * 160) >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}
