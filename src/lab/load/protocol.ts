import type { SipTarget } from './registering-client.js';

// What the main thread and a load worker say to each other: one request, one reply, matched by id.

export interface WorkerPlan {
  target: SipTarget;
  alternates?: SipTarget[];
  domain: string;
  password: string;
  /** The users this worker drives: `${prefix}${index}` for each index listed. */
  prefix: string;
  indices: number[];
  expiresS: number;
  timeoutMs: number;
  connectTimeoutMs: number;
}

export type WorkerCommand =
  | { cmd: 'connect'; concurrency: number }
  | { cmd: 'register-once'; concurrency: number }
  | { cmd: 'loop'; durationMs: number }
  | { cmd: 'hold'; refreshMs: number; retryMs: number; reconnectJitterMs: number }
  | { cmd: 'refresh-now' }
  | { cmd: 'stats' }
  | { cmd: 'close' };

export interface Counts {
  ok: number;
  /** Final statuses other than 2xx, by status; "0" is a connection lost mid-transaction, "connect" a failed connect. */
  failures: Record<string, number>;
  histogram: number[];
}

export interface WorkerStats extends Counts {
  clients: number;
  connected: number;
  registered: number;
  /** Requests the clients received from the far side (OPTIONS, MESSAGE...), by method. */
  received: Record<string, number>;
}

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
