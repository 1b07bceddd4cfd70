// The TURN server's control plane: starts the native server over a media engine (its relays come from the
// engine's port range), reads its counters for the status page and /metrics, and stops it. No packet passes here.
import type { Capacity, SectionStatus } from '../host/index.js';
import type { Logger } from '../log/index.js';
import type { MediaEngine } from '../media/index.js';
import { loadNativeTurnServer, type NativeTurnConfig, type NativeTurnServer, type NativeTurnStats } from './native.js';

export interface TurnServerOptions {
  /** Where the TURN port listens (default every address). */
  address?: string;
  /** UDP and TCP (default 3478; 0: any free port, for tests). */
  port?: number;
  tcp?: boolean;
  /** Where relay sockets bind: the media engine's address. */
  relayAddress: string;
  /** What XOR-RELAYED-ADDRESS tells clients (a NAT's public address); default relayAddress. */
  advertisedAddress?: string;
  realm: string;
  /** Any of them verifies a credential (turnCredentials); more than one while a secret is being rotated. */
  secrets: string[];
  defaultLifetimeS?: number;
  maxLifetimeS?: number;
  /** RFC 8656's 300 s and 600 s; shorter only for tests. */
  permissionLifetimeS?: number;
  channelLifetimeS?: number;
  /** How long a nonce is good for before 438 Stale Nonce. */
  nonceLifetimeS?: number;
  /** How long the odd port of an EVEN-PORT R=1 allocation waits for its RESERVATION-TOKEN (RFC 8656's 30 s). */
  reservationLifetimeS?: number;
  maxAllocations?: number;
  /** 0: no limit per user. */
  maxAllocationsPerUser?: number;
  maxPermissions?: number;
  maxChannels?: number;
  maxTcpConnections?: number;
  threads?: number;
  batchWaitUs?: number;
  /** Batch the relay sockets' I/O through io_uring when the kernel allows (default); false: a system call each. */
  ioUring?: boolean;
  /** CIDR blocks relayed to even inside a denied one. */
  allowPeers?: string[];
  /** CIDR blocks a permission or channel is refused for (403). */
  denyPeers?: string[];
}

export type TurnStats = NativeTurnStats;

/** The status page's and /metrics' view: gauges first, then what was relayed and refused. */
export interface TurnStatus extends SectionStatus {
  port: number;
  /** How relay sockets are read and written: "io_uring" batches, or "system calls" (slower, docs/turn.md). */
  io: string;
  realm: string;
  /** Read by the alarms: above 80 % raises turn.capacity. */
  capacity: Capacity;
  allocations: number;
  permissions: number;
  channels: number;
  tcpConnections: number;
  relayPorts: number;
  packets: { toPeers: number; toClients: number };
  bytes: { toPeers: number; toClients: number };
  allocationsEnded: { deleted: number; expired: number; connectionClosed: number };
  refused: {
    authFailures: number;
    wrongCredentials: number;
    staleNonces: number;
    badRequests: number;
    quota: number;
    capacity: number;
    forbiddenPeers: number;
    mismatches: number;
    other: number;
  };
  dropped: {
    malformed: number;
    noAllocation: number;
    noPermission: number;
    tooBig: number;
    sendErrors: number;
    receiveErrors: number;
  };
}

export class TurnServer {
  readonly ports: { udp: number; tcp: number };
  /** "io_uring": relay sockets are read and written in batches; "system calls": one per datagram (no io_uring). */
  readonly io: string;
  readonly #native: NativeTurnServer;
  readonly #realm: string;
  readonly #limit: number;
  #closed = false;

  private constructor(native: NativeTurnServer, realm: string, limit: number) {
    this.#native = native;
    const { udp, tcp, io } = native.ports();
    this.ports = { udp, tcp };
    this.io = io;
    this.#realm = realm;
    this.#limit = limit;
  }

  /** Opens the TURN port (throws on a bad option or a port in use). */
  static start(engine: MediaEngine, opts: TurnServerOptions, log?: Logger): TurnServer {
    if (engine.closed) throw new Error('the media engine is closed');
    const config: NativeTurnConfig = {
      listenAddress: opts.address ?? '0.0.0.0',
      port: opts.port ?? 3478,
      tcp: opts.tcp ?? true,
      relayAddress: opts.relayAddress,
      advertisedAddress: opts.advertisedAddress ?? opts.relayAddress,
      realm: opts.realm,
      secrets: opts.secrets,
      defaultLifetimeS: opts.defaultLifetimeS ?? 600,
      maxLifetimeS: opts.maxLifetimeS ?? 3600,
      permissionLifetimeS: opts.permissionLifetimeS ?? 300,
      channelLifetimeS: opts.channelLifetimeS ?? 600,
      nonceLifetimeS: opts.nonceLifetimeS ?? 600,
      reservationLifetimeS: opts.reservationLifetimeS ?? 30,
      maxAllocations: opts.maxAllocations ?? 1800,
      maxAllocationsPerUser: opts.maxAllocationsPerUser ?? 0,
      maxPermissions: opts.maxPermissions ?? 64,
      maxChannels: opts.maxChannels ?? 64,
      maxTcpConnections: opts.maxTcpConnections ?? 2 * (opts.maxAllocations ?? 1800) + 100,
      tcpIdleS: 30,
      threads: opts.threads ?? 1,
      batchWaitUs: opts.batchWaitUs ?? 100,
      ioUring: opts.ioUring ?? true,
      allowPeers: opts.allowPeers ?? [],
      denyPeers: opts.denyPeers ?? [],
    };
    const NativeTurnServerClass = loadNativeTurnServer();
    const server = new TurnServer(
      new NativeTurnServerClass(engine.nativeHandle, config),
      config.realm,
      config.maxAllocations,
    );
    log?.[server.io === 'io_uring' ? 'info' : 'warn'](
      {
        plane: 'turn',
        port: server.ports.udp,
        tcp: config.tcp,
        io: server.io,
        relayAddress: config.advertisedAddress,
        realm: config.realm,
        maxAllocations: config.maxAllocations,
        threads: config.threads,
      },
      'TURN server listening',
    );
    return server;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): TurnStats {
    if (this.#closed) throw new Error('TURN server is closed');
    return this.#native.stats();
  }

  status(): TurnStatus {
    const s = this.stats();
    return {
      port: this.ports.udp,
      io: this.io,
      realm: this.#realm,
      capacity: { used: s.allocations, limit: this.#limit },
      allocations: s.allocations,
      permissions: s.permissions,
      channels: s.channels,
      tcpConnections: s.tcpConnections,
      relayPorts: s.relayPorts,
      packets: { toPeers: s.toPeerPackets, toClients: s.toClientPackets },
      bytes: { toPeers: s.toPeerBytes, toClients: s.toClientBytes },
      allocationsEnded: {
        deleted: s.allocationsDeleted,
        expired: s.allocationsExpired,
        connectionClosed: s.allocationsClosed,
      },
      refused: {
        authFailures: s.authFailures,
        wrongCredentials: s.wrongCredentials,
        staleNonces: s.staleNonces,
        badRequests: s.badRequests,
        quota: s.quotaRefusals,
        capacity: s.capacityRefusals,
        forbiddenPeers: s.forbidden,
        mismatches: s.mismatches,
        other: s.unknownAttributes + s.unsupportedTransport + s.addressFamily,
      },
      dropped: {
        malformed: s.malformed,
        noAllocation: s.noAllocation,
        noPermission: s.noPermission,
        tooBig: s.tooBig,
        sendErrors: s.sendErrors,
        receiveErrors: s.receiveErrors,
      },
    };
  }

  /** Maintenance mode: existing allocations go on, new ones are refused 508. */
  setAccepting(on: boolean): void {
    if (!this.#closed) this.#native.setAccepting(on);
  }

  /** Ends every allocation and closes the TURN port; the relay ports are back in the engine's pool. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
