// Types the media engine's side of the native addon. Only src/media/ imports this.
import { nativeExport } from '../native/addon.js';

/** One SSRC's place in the SRTP packet index (RFC 3711 §3.3.1): rollover counter and highest sequence number. */
export interface SrtpIndex {
  ssrc: number;
  roc: number;
  seq: number;
}

/** A leg's SRTP indices: `recv` of what it unprotects, `send` of what it protects (empty without SRTP that way). */
export interface LegSrtpIndices {
  recv: SrtpIndex[];
  send: SrtpIndex[];
}

export interface NativeEndpoint {
  address: string;
  port: number;
}

export interface NativeLeg {
  mux?: boolean;
  muxPair?: number;
  rtcpMux?: boolean;
  latch?: boolean;
  remote?: NativeEndpoint;
  remoteRtcp?: NativeEndpoint;
  ssrc?: number;
  keepaliveMs?: number;
  port?: number;
  bindAddress?: string;
}

export interface NativeKey {
  suite: string;
  keySalt: Buffer;
  resume?: SrtpIndex[];
}

export interface NativeEvent {
  type: 'latched' | 'relatched' | 'timeout' | 'authFailures' | 'closed';
  relayId: string;
  leg: 0 | 1;
  rtcp: boolean;
  address?: string;
  port?: number;
  count: number;
}

export interface NativeDrops {
  invalid: number;
  auth: number;
  replay: number;
  foreign: number;
  noRemote: number;
  protect: number;
  send: number;
}

export interface NativeLegStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  /** The RTCP share of bytesIn and bytesOut. */
  rtcpBytesIn: number;
  rtcpBytesOut: number;
  /** RTP received on this leg, RFC 3550 A.3: packets its sequence numbers say were sent, and those that never came. */
  rtpExpected: number;
  rtpLost: number;
  /** 0-byte keepalive datagrams (RFC 6263 §4.1) received, and sent by a leg with `keepaliveMs`. */
  keepalivesIn: number;
  keepalivesOut: number;
  drops: NativeDrops;
  /** Which path carries the RTP this leg receives now: `kernel` once the stream is installed there (docs/media.md). */
  path: 'kernel' | 'user';
}

export interface NativeWorkerStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  unknownMux: number;
  receiveErrors: number;
  sendErrors: number;
  loops: number;
  /** Streams this worker put into the kernel path, took back out, and could not put in (no route, table full). */
  kernelInstalls: number;
  kernelRemovals: number;
  kernelRefusals: number;
  /** Packets and bytes the kernel forwarded for this worker's streams (not in packetsIn/packetsOut: user space
   * never read them), as folded into the legs' counters every tick. */
  kernelPackets: number;
  kernelBytes: number;
}

export interface NativeKernelPath {
  /** Streams that need nothing but new addresses are forwarded in the kernel. */
  active: boolean;
  /** Why not, when not (said once at start). */
  reason: string;
  /** Interfaces the program is attached to. */
  interfaces: string[];
}

export interface NativeInfo {
  srtpBackend: string;
  srtpSuites: string[];
  workers: number;
  muxPorts: number[];
  externalFirst: number;
  externalLast: number;
  kernelPath: NativeKernelPath;
}

export interface NativeConfig {
  workers: number;
  bindAddress: string;
  portMin: number;
  portMax: number;
  muxPairs: number;
  timeoutMs: number;
  authReportMs: number;
  relatchPackets: number;
  relatchSilenceMs: number;
  socketBuffer: number;
  batchWaitUs: number;
  kernelPath: boolean;
  kernelAfterPackets: number;
}

export interface NativeEngine {
  createRelay(
    id: string,
    opts: { a: NativeLeg; b: NativeLeg; timeoutMs?: number },
  ): { worker: number; a: number; b: number };
  setKeys(id: string, leg: 0 | 1, recv: NativeKey | null, send: NativeKey | null): void;
  setRemote(id: string, leg: 0 | 1, rtp: NativeEndpoint, rtcp: NativeEndpoint | null): void;
  setRtcpMux(id: string, leg: 0 | 1, rtcpMux: boolean): void;
  destroyRelay(id: string): boolean;
  srtpIndices(id: string): [LegSrtpIndices, LegSrtpIndices] | null;
  stats(id: string): [NativeLegStats, NativeLegStats] | null;
  info(): NativeInfo;
  workerStats(): NativeWorkerStats[];
  dump(): { relayIds: string[]; portPairsInUse: number };
  close(): void;
}

type NativeEngineClass = new (config: NativeConfig, onEvents: (events: NativeEvent[]) => void) => NativeEngine;

export function loadNativeEngine(): NativeEngineClass {
  return nativeExport<NativeEngineClass>('NativeEngine');
}
