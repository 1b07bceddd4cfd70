// The media engine's control plane: starts the native workers, creates relays with ids made here, routes the
// batched native events to the relays they belong to.
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { errorCode, type ListenerFailed } from '../host/index.js';
import type { Logger } from '../log/index.js';
import { loadNativeEngine, type NativeEngine, type NativeEvent, type NativeInfo, type NativeLeg } from './native.js';
import { Relay } from './relay.js';
import {
  KERNEL_PATH_MODES,
  type EngineTraffic,
  type KernelPathStatus,
  type LegOptions,
  type MediaEngineOptions,
  type RelayOptions,
  type WorkerStats,
} from './types.js';

function toNativeLeg(leg: LegOptions | undefined, name: string): NativeLeg {
  if (leg === null || typeof leg !== 'object') throw new TypeError(`relay leg ${name} must be an object`);
  const out: NativeLeg = { rtcpMux: leg.rtcpMux ?? false, latch: leg.latch ?? true };
  if (leg.mux) {
    out.mux = true;
    if (typeof leg.mux === 'object') out.muxPair = leg.mux.pair;
  }
  if (leg.remote) out.remote = leg.remote;
  if (leg.remoteRtcp) out.remoteRtcp = leg.remoteRtcp;
  if (leg.ssrc !== undefined) out.ssrc = leg.ssrc;
  if (leg.keepaliveMs !== undefined) out.keepaliveMs = leg.keepaliveMs;
  if (leg.port !== undefined) out.port = leg.port;
  if (leg.bindAddress !== undefined) out.bindAddress = leg.bindAddress;
  return out;
}

export class MediaEngine {
  readonly info: NativeInfo;
  readonly #native: NativeEngine;
  readonly #relays = new Map<string, Relay>();
  readonly #log: Logger | undefined;
  #closed = false;
  #listenerFailures = 0;

  private constructor(native: NativeEngine, log: Logger | undefined) {
    this.#native = native;
    this.#log = log;
    this.info = native.info();
  }

  /** Starts the workers and opens the mux ports; logs the SRTP backend and suites (issue #3). */
  static async create(opts: MediaEngineOptions = {}, log?: Logger): Promise<MediaEngine> {
    const size = opts.size ?? 'small';
    if (!['small', 'medium', 'large'].includes(size))
      throw new TypeError(`size must be small, medium or large, got ${size}`);
    const kernelPath = opts.kernelPath ?? 'auto';
    if (!KERNEL_PATH_MODES.includes(kernelPath))
      throw new TypeError(`kernelPath must be auto or off, got ${String(kernelPath)}`);
    const NativeEngineClass = loadNativeEngine();
    let dispatch: (events: NativeEvent[]) => void = () => {};
    const native = new NativeEngineClass(
      {
        workers: opts.workers ?? Math.min(availableParallelism(), 6),
        bindAddress: opts.bindAddress ?? '0.0.0.0',
        portMin: opts.portMin ?? 36000,
        portMax: opts.portMax ?? 59999,
        muxPairs: opts.muxPairs ?? (size === 'large' ? 6 : 1),
        timeoutMs: opts.mediaTimeoutMs ?? 60000,
        authReportMs: opts.authReportIntervalMs ?? 1000,
        relatchPackets: opts.relatch?.packets ?? 5,
        relatchSilenceMs: opts.relatch?.silenceMs ?? 1000,
        socketBuffer: opts.socketBufferBytes ?? 4 << 20,
        batchWaitUs: opts.batchWaitUs ?? 100,
        kernelPath: kernelPath === 'auto',
        kernelAfterPackets: opts.kernelAfterPackets ?? 10,
      },
      (events) => dispatch(events),
    );
    const engine = new MediaEngine(native, log);
    dispatch = (events) => engine.#dispatch(events);
    const info = engine.info;
    const level = info.srtpBackend.includes('fallback') ? 'warn' : 'info';
    log?.[level](
      {
        plane: 'media',
        srtpBackend: info.srtpBackend,
        srtpSuites: info.srtpSuites,
        workers: info.workers,
        muxPorts: info.muxPorts,
      },
      'media engine started',
    );
    // Said once: which path pass-through streams will take, and why not the kernel's when not.
    const k = info.kernelPath;
    if (k.active)
      log?.info(
        { plane: 'media', interfaces: k.interfaces },
        'media kernel path on: streams that need no change are forwarded in the kernel',
      );
    else
      log?.[kernelPath === 'off' ? 'info' : 'warn'](
        { plane: 'media', reason: k.reason },
        `media kernel path off: ${k.reason}; every packet goes through user space`,
      );
    return engine;
  }

  get closed(): boolean {
    return this.#closed;
  }
  /** The native engine, for native services that relay from its port range (the TURN server, src/turn/). */
  get nativeHandle(): object {
    return this.#native;
  }
  get relayCount(): number {
    return this.#relays.size;
  }
  /** Relay event listeners that threw (each logged with its code); the media section shows it. */
  get listenerFailures(): number {
    return this.#listenerFailures;
  }

  /** Opens the legs' ports at once (throws on bad options or an exhausted port range). */
  createRelay(opts: RelayOptions): Relay {
    if (this.#closed) throw new Error('media engine is closed');
    if (opts === null || typeof opts !== 'object') throw new TypeError('relay options must be an object');
    const id = opts.id ?? randomUUID();
    const created = this.#native.createRelay(id, {
      a: toNativeLeg(opts.a, 'a'),
      b: toNativeLeg(opts.b, 'b'),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    const relay = new Relay(
      this.#native,
      id,
      created,
      (r) => this.#relays.delete(r.id),
      (r, failure) => this.#listenerFailed(r, failure),
    );
    this.#relays.set(id, relay);
    return relay;
  }

  getRelay(id: string): Relay | undefined {
    return this.#relays.get(id);
  }

  workerStats(): WorkerStats[] {
    return this.#closed ? [] : this.#native.workerStats();
  }

  /**
   * The engine's packet totals, user space and the kernel path together (a packet the kernel forwarded counts in
   * and out, as one user space forwards does), and the kernel path's own figures: for the nodes' status sections.
   */
  traffic(): EngineTraffic {
    const workers = this.workerStats();
    const sum = (k: keyof WorkerStats) => workers.reduce((n, w) => n + w[k], 0);
    const k = this.info.kernelPath;
    const kernelPath: KernelPathStatus = {
      active: k.active,
      ...(k.active ? { interfaces: k.interfaces } : { reason: k.reason }),
      flows: sum('kernelInstalls') - sum('kernelRemovals'),
      packets: sum('kernelPackets'),
      bytes: sum('kernelBytes'),
      installs: sum('kernelInstalls'),
      removals: sum('kernelRemovals'),
      refusals: sum('kernelRefusals'),
    };
    return {
      packetsIn: sum('packetsIn') + kernelPath.packets,
      packetsOut: sum('packetsOut') + kernelPath.packets,
      bytesIn: sum('bytesIn') + kernelPath.bytes,
      bytesOut: sum('bytesOut') + kernelPath.bytes,
      unknownMux: sum('unknownMux'),
      socketErrors: sum('receiveErrors') + sum('sendErrors'),
      kernelPath,
    };
  }

  /** What the native registry holds: for leak checks. */
  dump(): { relayIds: string[]; portPairsInUse: number } {
    return this.#closed ? { relayIds: [], portPairsInUse: 0 } : this.#native.dump();
  }

  /** Stops the workers and closes every socket; pending relay closes resolve. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    for (const relay of [...this.#relays.values()]) relay.engineClosed();
    this.#relays.clear();
  }

  #listenerFailed(relay: Relay, failure: ListenerFailed): void {
    this.#listenerFailures++;
    this.#log?.error(
      {
        plane: 'media',
        code: failure.code,
        cause: errorCode(failure.cause),
        relay: relay.id,
        event: failure.event,
        err: failure.message,
      },
      'a relay event listener threw; the relay and the node go on',
    );
  }

  #dispatch(events: NativeEvent[]): void {
    for (const ev of events) this.#relays.get(ev.relayId)?.handle(ev);
  }
}
