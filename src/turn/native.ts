// Types the TURN server's side of the native addon (native/src/turn/turn_addon.cpp). Only src/turn/ imports this.
import { nativeExport } from '../native/addon.js';

export interface NativeTurnConfig {
  listenAddress: string;
  port: number;
  tcp: boolean;
  relayAddress: string;
  advertisedAddress: string;
  realm: string;
  secrets: string[];
  defaultLifetimeS: number;
  maxLifetimeS: number;
  permissionLifetimeS: number;
  channelLifetimeS: number;
  nonceLifetimeS: number;
  reservationLifetimeS: number;
  maxAllocations: number;
  maxAllocationsPerUser: number;
  maxPermissions: number;
  maxChannels: number;
  maxTcpConnections: number;
  tcpIdleS: number;
  threads: number;
  batchWaitUs: number;
  ioUring: boolean;
  allowPeers: string[];
  denyPeers: string[];
}

/** Counters (since start) and gauges (now), summed over the server's threads: MRA_TURN_COUNTERS in turn_config.hpp. */
export interface NativeTurnStats {
  allocations: number;
  permissions: number;
  channels: number;
  tcpConnections: number;
  relayPorts: number;
  reservations: number;
  allocationsCreated: number;
  allocationsRefreshed: number;
  allocationsDeleted: number;
  allocationsExpired: number;
  allocationsClosed: number;
  permissionsCreated: number;
  channelsBound: number;
  requests: number;
  indications: number;
  toPeerPackets: number;
  toPeerBytes: number;
  toClientPackets: number;
  toClientBytes: number;
  challenges: number;
  authFailures: number;
  badRequests: number;
  wrongCredentials: number;
  staleNonces: number;
  mismatches: number;
  forbidden: number;
  unknownAttributes: number;
  unsupportedTransport: number;
  addressFamily: number;
  quotaRefusals: number;
  capacityRefusals: number;
  malformed: number;
  noAllocation: number;
  noPermission: number;
  tooBig: number;
  sendErrors: number;
  receiveErrors: number;
  tcpAccepted: number;
  tcpClosed: number;
}

export interface NativeTurnServer {
  /** `io`: how relay sockets are read and written in batches ("io_uring"), or one system call each. */
  ports(): { udp: number; tcp: number; io: 'io_uring' | 'system calls' };
  stats(): NativeTurnStats;
  setAccepting(on: boolean): void;
  close(): void;
}

type NativeTurnServerClass = new (engine: object, config: NativeTurnConfig) => NativeTurnServer;

export function loadNativeTurnServer(): NativeTurnServerClass {
  return nativeExport<NativeTurnServerClass>('NativeTurnServer');
}
