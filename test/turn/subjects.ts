// The two TURN servers the tests drive with one configuration: ours (the native server over a media engine on a
// slice of its own) and coturn, the reference. Ours also says what it holds, for the leak checks.
import { MediaEngine } from '../../src/media/index.js';
import { TurnServer } from '../../src/turn/index.js';
import { Coturn, freeTurnPort } from '../support/coturn.js';
import { mediaRange } from '../support/media-range.js';
import type { Endpoint } from '../support/turn-client.js';

export const LOOPBACK = '127.0.0.1';
export const REALM = 'example.org';
export const SECRET = 'turn-test-secret-0123456789';

export interface TurnTestConfig {
  userQuota?: number;
  totalQuota?: number;
  nonceLifetimeS?: number;
  maxLifetimeS?: number;
  permissionLifetimeS?: number;
  channelLifetimeS?: number;
  /** How long an EVEN-PORT reservation lasts (ours only; coturn's is fixed). */
  reservationLifetimeS?: number;
  /** Ours with several TURN threads sharing the port (SO_REUSEPORT). */
  threads?: number;
  /** Ours without io_uring: a system call per datagram (what a kernel without io_uring gets). */
  ioUring?: boolean;
  /** Single addresses refused as peers (403). */
  deniedPeers?: string[];
}

export interface Subject {
  name: 'ours' | 'coturn';
  endpoint: Endpoint;
  close(): Promise<void>;
}

export interface Ours extends Subject {
  name: 'ours';
  turn: TurnServer;
  engine: MediaEngine;
  /** Allocations, relay ports and the engine's port pairs in use: all back to where they started after a test. */
  held(): { allocations: number; permissions: number; channels: number; relayPorts: number; portPairs: number };
}

export async function startOurs(cfg: TurnTestConfig = {}): Promise<Ours> {
  const range = mediaRange();
  const engine = await MediaEngine.create({
    workers: 1,
    bindAddress: LOOPBACK,
    portMin: range.port_min,
    portMax: range.port_max,
    muxPairs: 0,
  });
  const max = cfg.maxLifetimeS ?? 3600;
  let turn: TurnServer;
  try {
    turn = TurnServer.start(engine, {
      address: LOOPBACK,
      port: 0,
      relayAddress: LOOPBACK,
      realm: REALM,
      secrets: [SECRET],
      defaultLifetimeS: Math.min(600, max),
      maxLifetimeS: max,
      ...(cfg.permissionLifetimeS ? { permissionLifetimeS: cfg.permissionLifetimeS } : {}),
      ...(cfg.channelLifetimeS ? { channelLifetimeS: cfg.channelLifetimeS } : {}),
      nonceLifetimeS: cfg.nonceLifetimeS ?? 600,
      ...(cfg.reservationLifetimeS ? { reservationLifetimeS: cfg.reservationLifetimeS } : {}),
      maxAllocations: cfg.totalQuota ?? 1800,
      maxAllocationsPerUser: cfg.userQuota ?? 0,
      ...(cfg.ioUring === false ? { ioUring: false } : {}),
      ...(cfg.threads ? { threads: cfg.threads } : {}),
      // Loopback is where the tests' peers are: only the addresses a test names are refused.
      denyPeers: cfg.deniedPeers ?? [],
    });
  } catch (err) {
    // The engine's threads would keep the test process alive.
    await engine.close();
    throw err;
  }
  return {
    name: 'ours',
    endpoint: { address: LOOPBACK, port: turn.ports.udp },
    turn,
    engine,
    held() {
      const s = turn.stats();
      return {
        allocations: s.allocations,
        permissions: s.permissions,
        channels: s.channels,
        relayPorts: s.relayPorts,
        portPairs: engine.dump().portPairsInUse,
      };
    },
    async close() {
      await turn.close();
      await engine.close();
    },
  };
}

export async function startCoturn(cfg: TurnTestConfig = {}): Promise<Subject & { coturn: Coturn }> {
  const range = mediaRange();
  const port = await freeTurnPort();
  const coturn = await Coturn.start({
    address: LOOPBACK,
    port,
    relayPorts: [range.port_min, range.port_max],
    realm: REALM,
    secret: SECRET,
    ...(cfg.userQuota ? { userQuota: cfg.userQuota } : {}),
    ...(cfg.totalQuota ? { totalQuota: cfg.totalQuota } : {}),
    staleNonceS: cfg.nonceLifetimeS ?? 600,
    maxLifetimeS: cfg.maxLifetimeS ?? 3600,
    ...(cfg.permissionLifetimeS ? { permissionLifetimeS: cfg.permissionLifetimeS } : {}),
    ...(cfg.channelLifetimeS ? { channelLifetimeS: cfg.channelLifetimeS } : {}),
    deniedPeers: cfg.deniedPeers ?? [],
  });
  return { name: 'coturn', endpoint: { address: LOOPBACK, port }, coturn, close: () => coturn.stop() };
}
