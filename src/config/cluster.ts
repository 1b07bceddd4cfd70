import { z } from 'zod';
import { parseStoreUrl } from '../store/index.js';

/**
 * Where the node keeps its shared state (docs/cluster.md): `memory` (one process; the default, a single pair needs
 * nothing else), or Redis shared by every peer of both roles: redis://host:port/db, rediss://… for TLS, or
 * redis-sentinel://h1:26379,h2:26379/master for Sentinel (production).
 */
export const storeField = z
  .string()
  .default('memory')
  .superRefine((text, ctx) => {
    try {
      parseStoreUrl(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** How a node takes part in a cluster of peers sharing one store (docs/cluster.md). */
export const clusterSection = z
  .strictObject({
    /** The cluster's name: every key and channel in the store starts with mra:<name>:, so clusters can share a Redis. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be a name of letters, digits, _ . -')
      .default('mra'),
    /** The Redis (or Sentinel) password, when the URL carries none: a file readable by the service only. */
    store_password_file: z.string().min(1, 'must be a file path').optional(),
    /** A store command not answered this long counts as a partition: the node serves from what it holds. */
    store_timeout_ms: z
      .number()
      .int('must be a whole number')
      .min(50, 'must be at least 50 ms')
      .max(30000, 'must be at most 30000 ms')
      .default(1000),
    /** How long start-up waits for the store. */
    store_connect_timeout_s: z
      .number()
      .min(0.1, 'must be at least 0.1 s')
      .max(300, 'must be at most 300 s')
      .default(10),
    /**
     * Core: a call's lease in the store lapses this long after its core stopped renewing it (it died), and a peer core
     * adopts the call (docs/cluster.md): the longest a core's death silences a call, plus a third of it for the scan.
     */
    call_lease_ms: z
      .number()
      .int('must be a whole number')
      .min(300, 'must be at least 300 ms')
      .max(60000, 'must be at most 60000 ms')
      .default(3000),
    /** Store unreachable at start: fail (exit 1 with the reason) or start degraded (serve, alarm, reconcile when it comes). */
    on_store_unreachable: z.enum(['fail', 'degraded']).default('fail'),
  })
  .prefault({});
