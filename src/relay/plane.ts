// The relay plane: the ng control socket over the relay's calls, in the node's call registry, on the node's media
// engine. Publishes its figures as the `relay` status section (so the status page, /metrics and maintenance mode's
// drain read them), and takes no new call in maintenance mode.
import { readFileSync } from 'node:fs';
import type { RelayConfig } from '../config/index.js';
import type { MediaEngine } from '../media/index.js';
import { CallRegistry } from '../calls/index.js';
import type { NodeContext } from '../host/index.js';
import { allowList } from './ng/allow.js';
import { NgServer } from './ng/server.js';
import { RelayCommands } from './commands.js';

export interface RelayPlane {
  ports: { udp: number; tcp?: number; tls?: number };
  commands: RelayCommands;
  registry: CallRegistry;
}

export async function attachRelay(ctx: NodeContext<RelayConfig>, engine: MediaEngine): Promise<RelayPlane> {
  const { cfg, log } = ctx;
  const ng = cfg.ng;
  let commands: RelayCommands | undefined;
  const registry = new CallRegistry({
    capacity: cfg.capacity.calls,
    setupMs: ng.offer_timeout_s * 1000,
    // Media decides a relayed call's end (every leg silent past media.timeout_s), or the proxy's delete.
    idleMs: Number.POSITIVE_INFINITY,
    onEnded: (leg) => commands?.forget(leg.key),
  });
  ctx.onClose(() => registry.close());
  commands = new RelayCommands({
    engine,
    registry,
    interfaces: cfg.interfaces.map((i) => ({ name: i.name, address: i.advertised_address ?? i.address })),
    log,
    maxOffersPerS: ng.max_offers_per_s,
    deleteDelayMs: ng.delete_delay_s * 1000,
    maintenance: () => ctx.maintenance(),
  });
  ctx.onClose(() => commands!.close());
  const server = await NgServer.start({
    udp: ng.udp,
    ...(ng.tcp ? { tcp: ng.tcp } : {}),
    ...(ng.tls
      ? {
          tls: {
            ...ng.tls,
            cert: readFileSync(ng.tls.cert_file, 'utf8'),
            key: readFileSync(ng.tls.key_file, 'utf8'),
            ...(ng.tls.ca_file ? { ca: readFileSync(ng.tls.ca_file, 'utf8') } : {}),
          },
        }
      : {}),
    allowed: allowList(ng.allow),
    cookieCacheMs: ng.cookie_cache_s * 1000,
    maxMessageBytes: ng.max_message_bytes,
    handle: commands.handle,
    log,
  });
  ctx.onClose(() => server.close());
  log.info({ plane: 'relay', ng: server.ports, interfaces: cfg.interfaces }, 'relay ng control listening');
  const c = commands;
  ctx.addStatus('relay', () => ({
    calls: c.calls.size,
    dialogues: registry.size,
    relays: registry.relays,
    capacity: cfg.capacity.calls,
    ng: { ports: server.ports, ...server.counters, cachedReplies: server.cachedReplies },
    commands: { ...c.counters.commands },
    refused: {
      errors: c.counters.errors,
      unknownCommands: c.counters.unknownCommands,
      rateLimited: c.counters.offersRateLimited,
      atCapacity: c.counters.offersAtCapacity,
      maintenance: c.counters.offersInMaintenance,
    },
    ended: { deleted: c.counters.callsDeleted, timedOut: c.counters.callsTimedOut, legs: { ...registry.ended } },
    packetsForwarded: c.relayed().packets,
    kernelPath: engine.traffic().kernelPath,
    portPairsInUse: engine.dump().portPairsInUse,
  }));
  return { ports: server.ports, commands, registry };
}
