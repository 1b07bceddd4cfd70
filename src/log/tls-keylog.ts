import type { EventEmitter } from 'node:events';

/**
 * TLS key log (NSS key log format, what Wireshark reads) for a diagnostic capture: the node's TLS servers and
 * sockets are watched from the start, but a `keylog` listener (which makes OpenSSL hand out key material) is on
 * them only while a capture asks for keys. The native SIP TLS listener is not covered: its keys stay in C++.
 */
class TlsKeyLog {
  readonly #watched = new Set<WeakRef<EventEmitter>>();
  #sink: ((line: Buffer) => void) | undefined;
  readonly #listener = (line: Buffer) => this.#sink?.(line);

  /** A tls.Server or a TLSSocket whose keys a capture may want. */
  watch(source: EventEmitter): void {
    this.#watched.add(new WeakRef(source));
    if (this.#sink) source.on('keylog', this.#listener);
  }

  /** A socket made for one connection: listened to only when a capture runs as it starts (nothing is kept). */
  onSocket(socket: EventEmitter): void {
    if (this.#sink) socket.on('keylog', this.#listener);
  }

  get active(): boolean {
    return this.#sink !== undefined;
  }

  start(sink: (line: Buffer) => void): void {
    this.#sink = sink;
    for (const ref of this.#watched) {
      const s = ref.deref();
      if (s) s.on('keylog', this.#listener);
      else this.#watched.delete(ref);
    }
  }

  stop(): void {
    this.#sink = undefined;
    for (const ref of this.#watched) ref.deref()?.off('keylog', this.#listener);
  }
}

export const tlsKeyLog = new TlsKeyLog();
