// One relay as the control plane sees it: its ports, keys, remotes, stats and events. Packets never come here.
import { EventEmitter } from 'node:events';
import { ListenerFailed } from '../host/index.js';
import type { NativeEngine, NativeEvent, NativeKey } from './native.js';
import {
  SRTP_SUITES,
  type Endpoint,
  type LegName,
  type LegSrtpIndices,
  type RelayEvents,
  type RelayPorts,
  type RelayStats,
  type SrtpKey,
} from './types.js';

const legIndex = (leg: LegName): 0 | 1 => {
  if (leg !== 'a' && leg !== 'b') throw new TypeError(`leg must be 'a' or 'b', got ${String(leg)}`);
  return leg === 'a' ? 0 : 1;
};
const legName = (i: 0 | 1): LegName => (i === 0 ? 'a' : 'b');

export function toNativeKey(k: SrtpKey | null | undefined): NativeKey | null {
  if (k == null) return null;
  const info = SRTP_SUITES[k.suite];
  if (!info) throw new TypeError(`unknown SRTP suite '${String(k.suite)}'`);
  const keySalt = typeof k.key === 'string' ? Buffer.from(k.key, 'base64') : k.key;
  if (!Buffer.isBuffer(keySalt) || keySalt.length !== info.keySaltLength) {
    throw new TypeError(`${k.suite} needs ${info.keySaltLength} bytes of key||salt, got ${keySalt?.length ?? 'none'}`);
  }
  return { suite: k.suite, keySalt, ...(k.resume?.length ? { resume: k.resume } : {}) };
}

export class Relay extends EventEmitter<RelayEvents> {
  readonly id: string;
  readonly worker: number;
  /** The local ports each leg receives on (a mux leg shows the shared mux pair). */
  readonly ports: { a: RelayPorts; b: RelayPorts };
  #closed = false;
  #gone = false;
  #closing: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;

  /** @internal: created by MediaEngine.createRelay. */
  constructor(
    private readonly native: NativeEngine,
    id: string,
    created: { worker: number; a: number; b: number },
    private readonly onClose: (relay: Relay) => void,
    /** A listener of this relay's events threw: the engine logs and counts it (a bug in the listener, not the relay's). */
    private readonly onListenerFailed: (relay: Relay, failure: ListenerFailed) => void = () => {},
  ) {
    super();
    this.id = id;
    this.worker = created.worker;
    this.ports = { a: { rtp: created.a, rtcp: created.a + 1 }, b: { rtp: created.b, rtcp: created.b + 1 } };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** SDES keys for one leg: `recv` unprotects what arrives on it, `send` protects what leaves; null = plain. */
  setKeys(leg: LegName, keys: { recv?: SrtpKey | null; send?: SrtpKey | null }): void {
    this.#assertOpen();
    this.native.setKeys(this.id, legIndex(leg), toNativeKey(keys.recv), toNativeKey(keys.send));
  }

  /** A new signalled remote (re-INVITE); latching starts over from it. */
  setRemote(leg: LegName, rtp: Endpoint, rtcp?: Endpoint): void {
    this.#assertOpen();
    this.native.setRemote(this.id, legIndex(leg), rtp, rtcp ?? null);
  }

  /** RFC 5761 for one leg, as an answer negotiated it: RTCP then goes to, and leaves from, the RTP port. */
  setRtcpMux(leg: LegName, rtcpMux: boolean): void {
    this.#assertOpen();
    this.native.setRtcpMux(this.id, legIndex(leg), rtcpMux);
  }

  /** Where each leg's SRTP stands both ways (rollover counters, highest sequence numbers): what a rebuilt relay resumes. */
  srtpIndices(): Record<LegName, LegSrtpIndices> {
    this.#assertOpen();
    const s = this.native.srtpIndices(this.id);
    if (!s) throw new Error(`relay ${this.id} is gone from the engine`);
    return { a: s[0], b: s[1] };
  }

  stats(): RelayStats {
    this.#assertOpen();
    const s = this.native.stats(this.id);
    if (!s) throw new Error(`relay ${this.id} is gone from the engine`);
    return { a: s[0], b: s[1] };
  }

  /** Resolves once the worker has closed the sockets and the ports are back in the pool. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    if (!this.native.destroyRelay(this.id)) this.engineClosed();
    return this.#closing;
  }

  /** @internal: events for this relay, from the engine's batches. */
  handle(ev: NativeEvent): void {
    const leg = legName(ev.leg);
    switch (ev.type) {
      case 'latched':
      case 'relatched':
        this.emit('latched', {
          leg,
          rtcp: ev.rtcp,
          address: ev.address ?? '',
          port: ev.port ?? 0,
          relatch: ev.type === 'relatched',
        });
        break;
      case 'timeout':
        this.emit('timeout', { leg, silentMs: ev.count });
        break;
      case 'authFailures':
        this.emit('authFailures', { leg, count: ev.count });
        break;
      case 'closed':
        this.engineClosed();
        break;
    }
  }

  /**
   * Each listener is called on its own: one that throws (a bug in it) must not keep the event from the others,
   * break delivery of the rest of the engine's batch, nor, thrown on, end the process with every call on it. It is
   * reported to the engine, which logs it with its code and counts it; the relay and the node go on.
   */
  override emit<K extends keyof RelayEvents>(event: K, ...args: RelayEvents[K]): boolean {
    const listeners = this.rawListeners(event) as Array<(...a: RelayEvents[K]) => void>;
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (err) {
        this.onListenerFailed(this, new ListenerFailed(`relay ${event}`, err));
      }
    }
    return listeners.length > 0;
  }

  /** @internal: the engine went away or confirmed the close. */
  engineClosed(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#closed = true;
    this.#closing ??= Promise.resolve();
    this.onClose(this);
    this.#resolveClosed?.();
    this.#resolveClosed = undefined;
    this.emit('close');
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`relay ${this.id} is closed`);
  }
}
