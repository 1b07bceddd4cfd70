import { Duplex } from 'node:stream';
import type { MuxStream } from './mux-session.js';

const EMPTY = Buffer.alloc(0);

/**
 * A tunnel stream as a node Duplex, for the users that stream: an XMPP session's bytes each way, a request
 * body core passes inside, an answer too large or unsized to gather. Reading is credited back to the sender
 * as the reader takes it, so a full reader stops the sender at the stream window. The stream's answer head
 * arrives as a 'response' event ({ ':status', ...headers }); destroying the Duplex resets the stream.
 */
export class MuxDuplex extends Duplex {
  constructor(readonly stream: MuxStream) {
    super({ allowHalfOpen: true });
    stream.listen({
      head: (head, end) => {
        this.emit('response', { ...(head.h as Record<string, unknown>), ':status': head.s });
        if (end) this.push(null);
      },
      data: (chunk, end) => {
        if (chunk.length && !this.push(chunk)) stream.pause();
        if (end) this.push(null);
      },
      // A reset after the far side's end (it is done, and wants none of the rest) loses nothing it sent.
      reset: () => (stream.recvEnd && !this.readableEnded ? this.once('end', () => this.destroy()) : this.destroy()),
    });
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.stream.sendData(chunk, false)) return cb();
    if (this.stream.done) return cb(new Error('the tunnel stream was reset'));
    this.stream.ev.drain = () => {
      this.stream.ev.drain = undefined;
      cb();
    };
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.stream.sendData(EMPTY, true);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.stream.done) this.stream.reset();
    cb(err);
  }
}
