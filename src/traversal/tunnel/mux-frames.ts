/**
 * The tunnel's frames: a small multiplexing of many streams over one TLS connection, in the spirit of HTTP/2
 * without its per-stream object and header-compression machinery, which cost the edge and core more CPU per
 * proxied request than the request itself. Every frame: a 10-byte header (payload length u32, type u8,
 * flags u8, stream id u32) and its payload.
 */
import { MraError } from '../../host/index.js';

export const FRAME_HEADER = 10;

export const enum FrameType {
  /** Stream 0: the sender's limits, JSON ({ maxStreams }). */
  Settings = 0,
  /** Opens a stream (request: { m, p, h }) or answers on it (response: { s, h }); JSON. */
  Head = 1,
  Data = 2,
  /** The stream is abandoned by its sender: no more frames either way. */
  Reset = 3,
  /** u32: the receiver consumed that many more DATA bytes of the stream; the sender may send them. */
  Credit = 4,
}

/** Flag: the sender's side of the stream ends with this frame. */
export const END = 1;

/** Bytes a stream may have unread at its receiver: one stalled stream holds at most this much. */
export const STREAM_WINDOW = 256 * 1024;
export const MAX_DATA_FRAME = 64 * 1024;
/** A head larger than this is a broken or hostile peer (the edge's own header limit is far below it). */
export const MAX_HEAD = 64 * 1024;

export function frame(type: FrameType, flags: number, id: number, payload?: Buffer): Buffer {
  const len = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER + len);
  out.writeUInt32BE(len, 0);
  out[4] = type;
  out[5] = flags;
  out.writeUInt32BE(id, 6);
  if (payload) payload.copy(out, FRAME_HEADER);
  return out;
}

export function jsonFrame(type: FrameType, flags: number, id: number, value: unknown): Buffer {
  const text = JSON.stringify(value);
  const len = Buffer.byteLength(text);
  const out = Buffer.allocUnsafe(FRAME_HEADER + len);
  out.writeUInt32BE(len, 0);
  out[4] = type;
  out[5] = flags;
  out.writeUInt32BE(id, 6);
  out.write(text, FRAME_HEADER);
  return out;
}

export function creditFrame(id: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + 4);
  out.writeUInt32BE(4, 0);
  out[4] = FrameType.Credit;
  out[5] = 0;
  out.writeUInt32BE(id, 6);
  out.writeUInt32BE(n, FRAME_HEADER);
  return out;
}

export class FrameError extends MraError {
  readonly code = 'MRA_TUNNEL_FRAME';
}

/** Cuts a byte stream into frames; a payload is a view of the received bytes when one read holds it whole. */
export class FrameReader {
  #rest: Buffer | undefined;

  constructor(private readonly onFrame: (type: number, flags: number, id: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    this.#rest = undefined;
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const len = buf.readUInt32BE(at);
      if (len > MAX_DATA_FRAME + MAX_HEAD) throw new FrameError(`frame of ${len} bytes`);
      if (buf.length - at < FRAME_HEADER + len) break;
      const start = at + FRAME_HEADER;
      at = start + len;
      this.onFrame(buf[start - 6]!, buf[start - 5]!, buf.readUInt32BE(start - 4), buf.subarray(start, at));
    }
    if (at < buf.length) this.#rest = buf.subarray(at);
  }
}
