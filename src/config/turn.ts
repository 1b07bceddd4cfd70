import { isIPv4 } from 'node:net';
import { z } from 'zod';

/** Expressway-E's TURN request port, UDP and TCP. */
export const DEFAULT_TURN_PORT = 3478;

const ipv4Block = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/(3[0-2]|[12]?\d))?$/,
    'must be an IPv4 address or block (a.b.c.d/n)',
  );

/**
 * Peers a permission or channel is refused for (403) unless an allowed block holds them: "this network", loopback,
 * link-local, multicast and reserved. The DMZ's and the inside's own blocks belong here too, per site (docs/turn.md).
 */
export const DEFAULT_DENIED_PEERS = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'];

const seconds = (fallback: number) =>
  z
    .number()
    .int('must be a whole number of seconds')
    .min(1, 'must be at least 1 s')
    .max(86400, 'must be at most 86400 s')
    .default(fallback);

/**
 * The edge's TURN server (docs/turn.md): Expressway-E's "TURN services" for MRA clients' ICE. Credentials are
 * verified with a shared secret; core mints them per user (turnCredentials), the edge keeps no user's password.
 */
export const turnSection = z
  .strictObject({
    enabled: z.boolean().default(false),
    port: z
      .number({ error: 'must be a port number' })
      .int('must be a whole number')
      .min(0, 'must be from 0 to 65535')
      .max(65535, 'must be from 0 to 65535')
      .default(DEFAULT_TURN_PORT),
    /** Where the TURN port listens (default: the media engine's address). */
    address: z.ipv4().optional(),
    /** TCP to the server besides UDP (RFC 8656 §3.1), on the same port. */
    tcp: z.boolean().default(true),
    realm: z
      .string()
      .min(1, 'must not be empty')
      .max(127, 'must be at most 127 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .default('mra-edge'),
    /** Shared secrets (more than one while rotating); or secret_file, one per line. */
    secrets: z.array(z.string().min(16, 'must be at least 16 characters')).default([]),
    secret_file: z.string().min(1, 'must be a file path').optional(),
    /** All allocations on this node (default by size: 1,800 small/medium, 6,000 large, as Expressway-E's TURN relays). */
    max_allocations: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(100000, 'must be at most 100000')
      .optional(),
    /** Allocations one user (the <user> of its credentials) may hold at once; 0: no limit. */
    max_allocations_per_user: z.number().int('must be a whole number').min(0, 'must be at least 0').default(10),
    default_lifetime_s: seconds(600),
    max_lifetime_s: seconds(3600),
    /** A nonce older than this is answered 438 Stale Nonce with a new one. */
    nonce_lifetime_s: seconds(600),
    threads: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be from 1 to 16')
      .max(16, 'must be from 1 to 16')
      .default(1),
    allow_peers: z.array(ipv4Block).default([]),
    deny_peers: z.array(ipv4Block).default(DEFAULT_DENIED_PEERS),
  })
  .refine((t) => t.max_lifetime_s >= t.default_lifetime_s, {
    message: 'must not be below turn.default_lifetime_s',
    path: ['max_lifetime_s'],
  })
  .refine((t) => !t.enabled || t.secrets.length > 0 || t.secret_file !== undefined, {
    message: 'give secrets or secret_file when turn.enabled is true',
    path: ['secrets'],
  })
  .prefault({});

export type TurnSection = z.output<typeof turnSection>;

/**
 * What the schema cannot check: with TURN on, clients must be told an IPv4 relayed address, so one of
 * media.public_address, public.address and media.address must be one (src/turn/attach.ts picks in that order).
 */
export function turnProblems(cfg: {
  turn: TurnSection;
  public: { address: string };
  media: { address?: string; public_address?: string };
}): Array<{ path: string[]; message: string }> {
  if (!cfg.turn.enabled) return [];
  const named = [cfg.media.public_address, cfg.public.address, cfg.media.address].some(
    (a) => a !== undefined && isIPv4(a) && a !== '0.0.0.0',
  );
  return named
    ? []
    : [
        {
          path: ['turn', 'enabled'],
          message:
            'needs an IPv4 address to give clients as their relayed address: set media.public_address (or public.address, or media.address)',
        },
      ];
}
