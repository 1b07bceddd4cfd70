// The media plane's public types: what callers pass in and read out.
import type { LegSrtpIndices, NativeLegStats, NativeWorkerStats, SrtpIndex } from './native.js';

// The engine's own figures, declared beside its binding (native.ts), are part of this API as they are.
export type { LegSrtpIndices, SrtpIndex };

/** SDES crypto-suites (RFC 4568, RFC 7714); `MediaEngine.info.srtpSuites` lists what this build has. */
export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { keySaltLength: 30 },
  AES_CM_128_HMAC_SHA1_32: { keySaltLength: 30 },
  AES_256_CM_HMAC_SHA1_80: { keySaltLength: 46 },
  AES_256_CM_HMAC_SHA1_32: { keySaltLength: 46 },
  AEAD_AES_128_GCM: { keySaltLength: 28 },
  AEAD_AES_256_GCM: { keySaltLength: 44 },
} as const satisfies Record<string, { keySaltLength: number }>;

export type SrtpSuite = keyof typeof SRTP_SUITES;

export interface Endpoint {
  address: string;
  port: number;
}

/** Master key || master salt: a Buffer, or the base64 text of an SDES `inline:` key. */
export interface SrtpKey {
  suite: SrtpSuite;
  key: Buffer | string;
  /**
   * Where this key's streams stood in another relay (a call adopted from a dead core): each SSRC's RTP continues
   * from that rollover counter and sequence number instead of ROC 0. Used only when the key starts a new session.
   */
  resume?: SrtpIndex[];
}

export type LegName = 'a' | 'b';

export interface LegOptions {
  /** Receive on the engine's shared traversal mux pair, demultiplexed by `remote` (then by `ssrc`). */
  mux?: boolean | { pair: number };
  /** RFC 5761: RTCP shares the RTP port. */
  rtcpMux?: boolean;
  /** Learn the remote from validated packets (default true; mux legs never latch). */
  latch?: boolean;
  /** Where to send until something latches (from SDP); required for mux legs. */
  remote?: Endpoint;
  /** RTCP remote when it is not RTP port + 1. */
  remoteRtcp?: Endpoint;
  /** The SSRC signalled for this leg: mux demux fallback and spoof check. */
  ssrc?: number;
  /**
   * Send a 0-byte keepalive (RFC 6263 §4.1) to the remote whenever this leg has sent nothing for this long, and at
   * once when it gets a remote: core's traversal legs open the DMZ firewall's flow before any media, and keep it.
   */
  keepaliveMs?: number;
  /**
   * Open exactly this RTP port (RTCP + 1) instead of a pair from the range, on `bindAddress` when given: a call
   * adopted from a dead core (docs/cluster.md) keeps the ports its peers send to, on the address keepalived moved here.
   */
  port?: number;
  bindAddress?: string;
}

export interface RelayOptions {
  /** Created by the control plane (a UUID when omitted). */
  id?: string;
  a: LegOptions;
  b: LegOptions;
  /** Media timeout for this relay (default: the engine's, 60 s). 0 disables it. */
  timeoutMs?: number;
}

export interface MediaEngineOptions {
  /** Worker threads (default: cores, at most 6). */
  workers?: number;
  /** Deployment size: `large` gets 6 traversal mux pairs, `small`/`medium` one. */
  size?: 'small' | 'medium' | 'large';
  /** Overrides the number of mux pairs that `size` implies (0: none, e.g. a core without mux). */
  muxPairs?: number;
  bindAddress?: string;
  /** Media port range, inclusive (default 36000-59999); the mux pairs sit at its start. */
  portMin?: number;
  portMax?: number;
  mediaTimeoutMs?: number;
  authReportIntervalMs?: number;
  relatch?: { packets?: number; silenceMs?: number };
  socketBufferBytes?: number;
  /** After a turn that read less than a batch, a worker waits this long (µs) so the next turn reads more per
   * wake-up (default 100; 0: never). Adds at most that much latency; a busy worker never waits. */
  batchWaitUs?: number;
  /**
   * `auto` (default): streams that need nothing but new addresses and ports (no SRTP key on either side) go into
   * the kernel path once latched, where the machine allows it; `off`: every packet through user space.
   */
  kernelPath?: KernelPathMode;
  /** RTP packets a stream's current source sends through user space before it may go into the kernel (default 10). */
  kernelAfterPackets?: number;
}

export const KERNEL_PATH_MODES = ['auto', 'off'] as const;
export type KernelPathMode = (typeof KERNEL_PATH_MODES)[number];

/** The kernel path in a status section (docs/media.md, "Two paths"). */
export interface KernelPathStatus {
  /** Streams that need nothing but new addresses are forwarded in the kernel. */
  active: boolean;
  /** Why not, when not. */
  reason?: string;
  /** The interfaces the program is attached to, when on. */
  interfaces?: string[];
  /** Flows in the kernel now: one per direction of a stream (the RTP one leg receives). */
  flows: number;
  /** Packets and bytes the kernel forwarded (at most a worker tick, 100 ms, behind). */
  packets: number;
  bytes: number;
  /** Flows put in, taken back out, and streams that qualified but could not go in (no route, a full table). */
  installs: number;
  removals: number;
  refusals: number;
}

/** The engine's totals for a status section: packets and bytes through user space and the kernel path. */
export interface EngineTraffic {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  unknownMux: number;
  socketErrors: number;
  kernelPath: KernelPathStatus;
}

export type LegStats = NativeLegStats;
export type WorkerStats = NativeWorkerStats;
export interface RelayStats {
  a: LegStats;
  b: LegStats;
}

export interface RelayPorts {
  rtp: number;
  rtcp: number;
}

export interface LatchedEvent {
  leg: LegName;
  rtcp: boolean;
  address: string;
  port: number;
  relatch: boolean;
}
export interface TimeoutEvent {
  leg: LegName;
  silentMs: number;
}
export interface AuthFailuresEvent {
  leg: LegName;
  count: number;
}

export interface RelayEvents {
  latched: [LatchedEvent];
  timeout: [TimeoutEvent];
  authFailures: [AuthFailuresEvent];
  close: [];
}
