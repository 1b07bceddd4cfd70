// What one turn of the event loop writes to a stream, handed over as one write on the next tick.
import type { Writable } from 'node:stream';

const flushWriter = (w: TickWriter) => w.flush();

/**
 * Batches the messages a tick sends on one connection (core's connection to call control and the traversal
 * SIP channel carry every client's messages): one TLS record and one syscall for many, and without the
 * Writable's per-chunk queue that cork()/uncork() builds (its clearBuffer was ~3 % of core's CPU).
 */
export class TickWriter {
  #pending: Buffer[] = [];

  constructor(private readonly stream: Pick<Writable, 'write' | 'destroyed'>) {}

  write(data: Buffer | string): void {
    if (this.#pending.push(typeof data === 'string' ? Buffer.from(data) : data) === 1)
      process.nextTick(flushWriter, this);
  }

  /** @internal the nextTick half of write(). */
  flush(): void {
    const pending = this.#pending;
    this.#pending = [];
    if (pending.length > 0 && !this.stream.destroyed)
      this.stream.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
  }
}
