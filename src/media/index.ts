// The media plane's public face: the native relay engine behind a small typed API.
export { MediaEngine } from './engine.js';
export { Relay } from './relay.js';
export { KERNEL_PATH_MODES, SRTP_SUITES } from './types.js';
export type {
  AuthFailuresEvent,
  EngineTraffic,
  Endpoint,
  KernelPathStatus,
  LatchedEvent,
  LegName,
  LegOptions,
  LegSrtpIndices,
  LegStats,
  MediaEngineOptions,
  RelayEvents,
  KernelPathMode,
  RelayOptions,
  RelayPorts,
  RelayStats,
  SrtpIndex,
  SrtpKey,
  SrtpSuite,
  TimeoutEvent,
  WorkerStats,
} from './types.js';
export type { NativeInfo as MediaEngineInfo, NativeKernelPath as KernelPathInfo } from './native.js';
