// The edge's TURN plane: the server (turn.enabled) relaying from the node's media engine at its address. Clients
// are told the media's public address (media.public_address, else public.address, else the media address). Closed
// before the engine; in maintenance mode it takes no new allocation.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import type { EdgeConfig } from '../config/index.js';
import type { NodeContext } from '../host/index.js';
import type { MediaEngine } from '../media/index.js';
import { TurnError } from './errors.js';
import { TurnServer } from './server.js';

/** Expressway-E's TURN relays by OVA size: 1,800 on small and medium, 6,000 on large. */
const ALLOCATIONS_BY_SIZE = { small: 1800, medium: 1800, large: 6000 } as const;

export interface TurnDeps {
  /** The node's media engine: relays come from its port pool. */
  media: MediaEngine;
  /** Where the engine binds, and so the relays. */
  mediaBind: string;
}

/** turn.secrets, then turn.secret_file's lines (blank lines and # comments skipped). */
function secretsOf(t: EdgeConfig['turn']): string[] {
  let fromFile: string[] = [];
  if (t.secret_file) {
    try {
      fromFile = readFileSync(t.secret_file, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean);
    } catch (err) {
      throw new TurnError(`turn.secret_file: ${t.secret_file}: ${(err as Error).message}`);
    }
  }
  if (fromFile.some((s) => s.length < 16))
    throw new TurnError(`turn.secret_file: ${t.secret_file}: every secret must be at least 16 characters`);
  const secrets = [...t.secrets, ...fromFile];
  if (secrets.length === 0) throw new TurnError(`turn.secret_file: ${t.secret_file} holds no secret`);
  return secrets;
}

/** Starts the TURN server when the configuration says so; undefined otherwise. */
export function attachTurnEdge(ctx: NodeContext<EdgeConfig>, deps: TurnDeps): TurnServer | undefined {
  const { cfg } = ctx;
  const t = cfg.turn;
  if (!t.enabled) return undefined;
  const advertised = [cfg.media.public_address, cfg.public.address, deps.mediaBind].find(
    (a) => a !== undefined && isIPv4(a) && a !== '0.0.0.0',
  );
  if (!advertised)
    throw new TurnError(
      'turn: the relayed address to give clients is unknown: set media.public_address (or public.address to an IPv4 address)',
    );
  let server: TurnServer;
  try {
    server = TurnServer.start(
      deps.media,
      {
        address: t.address ?? deps.mediaBind,
        port: t.port,
        tcp: t.tcp,
        relayAddress: deps.mediaBind,
        advertisedAddress: advertised,
        realm: t.realm,
        secrets: secretsOf(t),
        defaultLifetimeS: t.default_lifetime_s,
        maxLifetimeS: t.max_lifetime_s,
        nonceLifetimeS: t.nonce_lifetime_s,
        maxAllocations: t.max_allocations ?? ALLOCATIONS_BY_SIZE[cfg.size],
        maxAllocationsPerUser: t.max_allocations_per_user,
        threads: t.threads,
        allowPeers: t.allow_peers,
        denyPeers: t.deny_peers,
      },
      ctx.log,
    );
  } catch (err) {
    throw err instanceof TurnError ? err : new TurnError(`turn: ${(err as Error).message}`, err);
  }
  ctx.onClose(() => server.close());
  ctx.addStatus('turn', () => server.status());
  server.setAccepting(!ctx.maintenance());
  ctx.onMaintenance((on) => server.setAccepting(!on));
  return server;
}
