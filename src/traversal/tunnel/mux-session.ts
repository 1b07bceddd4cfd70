import type { TLSSocket } from 'node:tls';
import { IdTable } from '../../util/id-table.js';
import { TickWriter } from '../../util/tick-writer.js';
import {
  END,
  FrameError,
  FrameReader,
  FrameType,
  MAX_DATA_FRAME,
  MAX_HEAD,
  STREAM_WINDOW,
  creditFrame,
  frame,
  jsonFrame,
} from './mux-frames.js';

/** What a stream's user hears (MuxStream.listen). Data that comes before anyone listens waits, uncredited. */
export interface StreamEvents {
  head?(head: Record<string, unknown>, end: boolean): void;
  data?(chunk: Buffer, end: boolean): void;
  /** The far side abandoned the stream, or the tunnel went: nothing more comes. */
  reset?(): void;
  /** Credit came back: data held for it has gone, more may be sent. */
  drain?(): void;
}

/**
 * One stream of a MuxSession: a request and its answer, or a long-lived XMPP session. Each direction has its
 * own window: the sender may have at most the session's streamWindow bytes unconsumed at the receiver, so a stream whose
 * reader stalls (a slow client, a slow inside server) holds only its own window, never the connection.
 */
export class MuxStream {
  ev: StreamEvents = {};
  sentEnd = false;
  /** Data that arrived before a listener (core's handler asks for the body after its checks). */
  #early: Array<[Buffer, boolean]> | undefined;
  #endDelivered = false;
  recvEnd = false;
  #done = false;
  #credit: number;
  /** Data waiting for credit, with whether the end follows it. */
  #held: Buffer[] = [];
  #heldEnd = false;
  #allowed: number;
  #unacked = 0;
  #paused = false;

  constructor(
    readonly id: number,
    private readonly session: MuxSession,
  ) {
    this.#credit = this.#allowed = session.streamWindow;
  }

  /** Sets the handlers and hands over what arrived before them, the end included. */
  listen(ev: StreamEvents): void {
    this.ev = ev;
    const early = this.#early;
    this.#early = undefined;
    for (const [chunk, end] of early ?? []) this.#deliver(chunk, end);
    if (this.recvEnd && !this.#endDelivered) this.#deliver(Buffer.alloc(0), true);
    if (!this.#paused) this.resume();
  }

  /** Reset by either side, or ended both ways. */
  get done(): boolean {
    return this.#done;
  }

  sendHead(head: Record<string, unknown>, end: boolean): void {
    if (this.#done || this.sentEnd) return;
    this.session.send(jsonFrame(FrameType.Head, end ? END : 0, this.id, head));
    if (end) this.#sentEnd();
  }

  /** Sends as much as the credit allows; false when some is held until the receiver consumes more. */
  sendData(chunk: Buffer, end: boolean): boolean {
    if (this.#done || this.sentEnd || this.#heldEnd) return false;
    if (this.#held.length) {
      if (chunk.length) this.#held.push(chunk);
      this.#heldEnd = end;
      return false;
    }
    return this.#sendWithin(chunk, end);
  }

  /** Stops crediting what arrives (the reader is full); the sender stops once its window is used. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (this.#unacked > 0 && !this.#done && !this.recvEnd) this.#creditBack();
  }

  /** Abandons the stream: the far side is told, nothing more is sent or delivered. */
  reset(): void {
    if (this.#done) return;
    this.session.send(frame(FrameType.Reset, 0, this.id));
    this.#close();
  }

  /** @internal frames for this stream, from the session. */
  receive(type: number, flags: number, payload: Buffer): void {
    if (this.#done) return;
    const end = (flags & END) !== 0;
    if (type === FrameType.Data) {
      if (this.recvEnd || (this.#allowed -= payload.length) < 0)
        throw new FrameError(`stream ${this.id}: data beyond its window or end`);
      if (end) this.recvEnd = true;
      else this.#unacked += payload.length;
      if (!this.ev.data) return void (this.#early ??= []).push([payload, end]);
      // Consumed bytes are credited back in batches of a quarter window (or all at once when the reader resumes).
      if (!end && !this.#paused && this.#unacked >= this.session.streamWindow / 4) this.#creditBack();
      this.#deliver(payload, end);
    } else if (type === FrameType.Head) {
      if (end) this.recvEnd = true;
      this.ev.head?.(JSON.parse(payload.toString()) as Record<string, unknown>, end);
    } else if (type === FrameType.Credit) {
      this.#credit += payload.readUInt32BE(0);
      this.#flushHeld();
      return;
    } else if (type === FrameType.Reset) {
      this.#close();
      return;
    }
    if (this.recvEnd && this.sentEnd) this.#finish();
  }

  /** @internal the tunnel went: every open stream is reset. */
  lost(): void {
    if (!this.#done) this.#close();
  }

  #deliver(chunk: Buffer, end: boolean): void {
    if (end) this.#endDelivered = true;
    this.ev.data?.(chunk, end);
  }

  #sendWithin(chunk: Buffer, end: boolean): boolean {
    let at = 0;
    while (at < chunk.length && this.#credit > 0) {
      const n = Math.min(chunk.length - at, this.#credit, MAX_DATA_FRAME);
      const last = at + n === chunk.length;
      this.session.send(frame(FrameType.Data, last && end ? END : 0, this.id, chunk.subarray(at, at + n)));
      this.#credit -= n;
      at += n;
    }
    if (at < chunk.length) {
      this.#held.push(at ? chunk.subarray(at) : chunk);
      this.#heldEnd = end;
      return false;
    }
    if (chunk.length === 0 && end) this.session.send(frame(FrameType.Data, END, this.id));
    if (end) this.#sentEnd();
    return true;
  }

  #flushHeld(): void {
    if (!this.#held.length && !this.#heldEnd) return;
    const held = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held);
    const end = this.#heldEnd;
    this.#held = [];
    this.#heldEnd = false;
    if (this.#sendWithin(held, end) && !this.#done) this.ev.drain?.();
  }

  #creditBack(): void {
    this.session.send(creditFrame(this.id, this.#unacked));
    this.#allowed += this.#unacked;
    this.#unacked = 0;
  }

  #sentEnd(): void {
    this.sentEnd = true;
    if (this.recvEnd) this.#finish();
  }

  #finish(): void {
    this.#done = true;
    this.session.forget(this);
  }

  #close(): void {
    this.#done = true;
    this.#held = [];
    this.session.forget(this);
    this.ev.reset?.();
  }
}

/** Stream ids are u32 on the wire; the edge's are odd and rise by 2, and after the last one they start again at 1. */
const MAX_STREAM_ID = 0xffffffff;
/** A new stream id below the last one is that wrap only if the last one was this near the top, and it this low. */
const WRAP_ZONE = 2 ** 24;
const nextStreamId = (id: number) => (id >= MAX_STREAM_ID ? 1 : id + 2);
/** Streams core takes at once on a tunnel, unless its plane says otherwise. */
export const DEFAULT_MAX_STREAMS = 4096;

export interface MuxSessionOptions {
  /** 'edge' opens streams; 'core' takes them (onStream) and announces how many it allows at once. */
  role: 'edge' | 'core';
  maxStreams?: number;
  /**
   * Bytes a stream may have unconsumed at its receiver (default STREAM_WINDOW). Not negotiated: both ends of a
   * channel are built by the same plane of the same release (the traversal handshake checks the release).
   */
  streamWindow?: number;
  /** @internal the edge's first stream id (odd), for tests of the wrap after 2^31 streams. */
  firstStreamId?: number;
  onStream?: (stream: MuxStream, head: Record<string, unknown>, end: boolean) => void;
  onClose?: () => void;
}

/**
 * The tunnel's multiplexed streams over one traversal TLS connection. Frames written in one turn of the event
 * loop leave as one write (one TLS record for many streams).
 */
export class MuxSession {
  readonly #streams = new IdTable<MuxStream>();
  readonly #writer: TickWriter;
  readonly streamWindow: number;
  readonly #maxStreams: number;
  #nextId: number;
  #lastPeerId = 0;
  /** Streams the far side takes at once; core announces its figure first thing. */
  #peerMax = 100;
  #closed = false;

  constructor(
    readonly socket: TLSSocket,
    private readonly opts: MuxSessionOptions,
  ) {
    this.#writer = new TickWriter(socket);
    this.streamWindow = opts.streamWindow ?? STREAM_WINDOW;
    this.#maxStreams = opts.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.#nextId = opts.firstStreamId ?? 1;
    // Many small frames from many streams: Nagle would hold each behind the previous one's ACK.
    socket.setNoDelay(true);
    const reader = new FrameReader((type, flags, id, payload) => this.#frame(type, flags, id, payload));
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.once('close', () => this.#lost());
    socket.on('error', () => {});
    if (opts.role === 'core') this.send(jsonFrame(FrameType.Settings, 0, 0, { maxStreams: this.#maxStreams }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** A new stream with its head sent; undefined when the tunnel is closing or the far side takes no more. */
  open(head: Record<string, unknown>, end: boolean, ev: StreamEvents): MuxStream | undefined {
    if (this.#closed || this.#streams.size >= this.#peerMax) return undefined;
    // A busy tunnel uses up 2^31 ids in days and starts again at 1; a stream that old still open keeps its id.
    let id = this.#nextId;
    while (this.#streams.get(id)) id = nextStreamId(id);
    this.#nextId = nextStreamId(id);
    const s = new MuxStream(id, this);
    s.listen(ev);
    this.#streams.set(s.id, s);
    s.sendHead(head, end);
    return s;
  }

  close(): void {
    this.socket.destroy();
    this.#lost();
  }

  /** @internal */
  send(buf: Buffer): void {
    if (!this.#closed) this.#writer.write(buf);
  }

  /** @internal */
  forget(s: MuxStream): void {
    this.#streams.delete(s.id);
  }

  #frame(type: number, flags: number, id: number, payload: Buffer): void {
    const s = this.#streams.get(id);
    if (s) return s.receive(type, flags, payload);
    if (type === FrameType.Settings && id === 0) {
      const max = (JSON.parse(payload.toString()) as { maxStreams?: unknown }).maxStreams;
      if (typeof max === 'number' && max > 0) this.#peerMax = max;
      return;
    }
    if (type !== FrameType.Head || this.opts.role !== 'core') return; // a stream already gone here: a race, not an error
    const wrapped = id < this.#lastPeerId && this.#lastPeerId > MAX_STREAM_ID - WRAP_ZONE && id < WRAP_ZONE;
    if (id % 2 === 0 || (id <= this.#lastPeerId && !wrapped))
      throw new FrameError(`stream id ${id} reused or out of order`);
    if (payload.length > MAX_HEAD) throw new FrameError('stream head too large');
    this.#lastPeerId = id;
    if (this.#streams.size >= this.#maxStreams) return void this.send(frame(FrameType.Reset, 0, id));
    const stream = new MuxStream(id, this);
    this.#streams.set(id, stream);
    const end = (flags & END) !== 0;
    if (end) stream.recvEnd = true;
    this.opts.onStream?.(stream, JSON.parse(payload.toString()) as Record<string, unknown>, end);
  }

  #lost(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams.values()) s.lost();
    this.#streams.clear();
    this.opts.onClose?.();
  }
}
