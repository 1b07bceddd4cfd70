// Configuration every peer of a cluster must hold alike (the MRA domains, the HTTP allow list): one copy in the store
// with a version, changed on any peer and applied by all without a restart. A change is written under a short lease
// (so two peers changing one setting at once cannot both take the same version), then announced on a channel; every
// peer reads the copy and applies it when its version is newer than the one it holds. Notices are at most once, so
// each peer also polls the version. In memory (one process, the embedded default) nothing is written to the store:
// the file's copy is in force and a change is applied here alone, as before clusters.
import { randomUUID } from 'node:crypto';
import { ChangeConflict, MraError } from './errors.js';
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';

const NS = 'cluster-config';
const NS_LOCK = 'cluster-config-lock';
const CHANNEL = 'cluster-config';
const LOCK_MS = 5000;
const LOCK_TRIES = 20;

/** The cluster's copy of one setting. */
export interface SharedCopy<T> {
  version: number;
  value: T;
  /** The node that wrote it, and when. */
  by: string;
  at: string;
}

export interface SharedSettingOptions<T> {
  store: Store;
  /** The setting's name: its key in the store and in notices (domains, allow-list). */
  name: string;
  node: string;
  /** Checks a value and returns it in its canonical form; throws (BadInput) naming the field when it is bad. */
  parse(raw: unknown): T;
  /** Puts a parsed value in force on this node. */
  apply(value: T): void;
  /** This node's own copy (its configuration file), offered to the cluster when the store holds none. */
  local(): T;
  /** How often the version is read again, for a notice lost while the store was away (0: never). */
  pollMs: number;
  log: Logger;
  /** This node's file differs from the cluster's copy in force (undefined: it no longer does). */
  onDiffers?(message: string | undefined): void;
  /** The cluster's copy could not be applied here (undefined: a later one could). */
  onRejected?(message: string | undefined): void;
}

/** What the status page shows of one shared setting. */
export interface SharedSettingStatus {
  version: number;
  by: string | null;
  at: string | null;
  /** cluster: the copy in the store is in force; file: this node's configuration (no shared store, or none yet). */
  source: 'cluster' | 'file';
  differsFromFile: boolean;
}

/** The store does not answer: the cluster's copy cannot be changed now (503; the node serves the copy it holds). */
export class SettingUnavailable extends MraError {
  readonly code = 'MRA_CONFIG_STORE_DOWN';
  readonly status = 503;
}

/** Another peer holds the setting's write lease: the operator tries again (409). */
export class SettingBusy extends ChangeConflict {
  override readonly code = 'MRA_CONFIG_BUSY';
}

export class SharedSetting<T> {
  readonly #o: SharedSettingOptions<T>;
  readonly #log: Logger;
  #version = 0;
  #by: string | null = null;
  #at: string | null = null;
  #differs = false;
  #source: 'cluster' | 'file' = 'file';
  #unsubscribe: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** Started degraded: the first copy from the cluster is compared with the file, as a start's would be. */
  #compareNext = false;
  /** One read of the copy at a time: a notice and a poll arriving together apply it once. */
  #refreshing: Promise<void> | undefined;

  constructor(o: SharedSettingOptions<T>) {
    this.#o = o;
    this.#log = o.log.child({ setting: o.name });
  }

  get name(): string {
    return this.#o.name;
  }

  /**
   * Takes the cluster's copy when there is one (the file, when it differs, is reported and not applied), else offers
   * this node's file as the first copy; then follows the cluster's changes.
   */
  async start(): Promise<void> {
    const { store, name, node } = this.#o;
    const local = this.#o.parse(this.#o.local());
    const first: SharedCopy<T> = { version: 1, value: local, by: node, at: new Date().toISOString() };
    if (!store.shared) return this.#take(first, 'start');
    if (store.health().state === 'down') {
      // Started degraded: the file serves until the store answers, and the poll then takes the cluster's copy (version
      // 0 here, so that any copy is newer). Nothing is written: a replay must not put this file over the cluster's.
      this.#take({ ...first, version: 0 }, 'start');
      this.#source = 'file';
      this.#compareNext = true;
    } else {
      await store.setIfAbsent(NS, name, first);
      this.#take((await store.get<SharedCopy<T>>(NS, name)) ?? first, 'start');
    }
    this.#unsubscribe = store.subscribe(CHANNEL, (message) => this.#notice(message));
    if (this.#o.pollMs > 0) {
      this.#poll = setInterval(() => void this.refresh(), this.#o.pollMs);
      this.#poll.unref();
    }
  }

  /**
   * Checks `raw`, writes it as the cluster's next version, applies it here and tells every peer. Bad input throws
   * (naming the field) before anything is written or applied.
   */
  async change(raw: unknown): Promise<SharedCopy<T>> {
    const value = this.#o.parse(raw);
    const { store, name, node } = this.#o;
    if (!store.shared) {
      const copy = { version: this.#version + 1, value, by: node, at: new Date().toISOString() };
      this.#take(copy, 'change');
      return copy;
    }
    // Another peer's change takes a round trip or two: wait for it a little before giving up.
    if (store.health().state === 'down')
      throw new SettingUnavailable(
        `the store does not answer: the cluster's ${name} cannot be changed until it does (this node keeps version ${this.#version})`,
      );
    // The holder is this change, not this node: two changes at once on one node must not share the lease.
    const owner = `${node}/${randomUUID()}`;
    let lease = await store.acquire(NS_LOCK, name, owner, LOCK_MS);
    for (let tries = 0; !lease && tries < LOCK_TRIES; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      lease = await store.acquire(NS_LOCK, name, owner, LOCK_MS);
    }
    if (!lease) throw new SettingBusy(`${name} is being changed on another peer at this moment; try again`);
    let copy: SharedCopy<T>;
    try {
      const current = await store.get<SharedCopy<T>>(NS, name);
      copy = {
        version: Math.max(current?.version ?? 0, this.#version) + 1,
        value,
        by: node,
        at: new Date().toISOString(),
      };
      await store.set(NS, name, copy);
    } finally {
      await store.release(NS_LOCK, name, lease);
    }
    this.#take(copy, 'change');
    await store.publish(CHANNEL, JSON.stringify({ name, version: copy.version }));
    return copy;
  }

  /** This node's configuration file becomes the cluster's copy (an operator settling a difference the alarm reported). */
  push(): Promise<SharedCopy<T>> {
    return this.change(this.#o.local());
  }

  /** Reads the cluster's copy and applies it when it is newer than the one in force. */
  refresh(): Promise<void> {
    if (!this.#o.store.shared) return Promise.resolve();
    this.#refreshing ??= (async () => {
      try {
        const copy = await this.#o.store.get<SharedCopy<T>>(NS, this.#o.name);
        if (copy && copy.version > this.#version) this.#take(copy, 'peer');
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'shared configuration could not be read from the store');
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  status(): SharedSettingStatus {
    return { version: this.#version, by: this.#by, at: this.#at, source: this.#source, differsFromFile: this.#differs };
  }

  close(): void {
    this.#unsubscribe?.();
    clearInterval(this.#poll);
  }

  #notice(message: string): void {
    let n: { name?: unknown; version?: unknown };
    try {
      n = JSON.parse(message) as typeof n;
    } catch {
      return;
    }
    if (n.name === this.#o.name && typeof n.version === 'number' && n.version > this.#version) void this.refresh();
  }

  #take(copy: SharedCopy<T>, why: 'start' | 'change' | 'peer'): void {
    // A newer copy may have come in meanwhile (a peer's change right after this node's own): never go back to an older.
    if (why !== 'start' && copy.version <= this.#version) return;
    let value: T;
    try {
      value = this.#o.parse(copy.value);
    } catch (err) {
      // A copy this node cannot read (written by a peer of another release, or by hand): keep what is in force.
      const message = `the cluster's ${this.#o.name} (version ${copy.version}, written by ${copy.by} at ${copy.at}) cannot be applied on this node: ${(err as Error).message}; it keeps version ${this.#version}`;
      this.#log.error({ version: copy.version, by: copy.by, err: (err as Error).message }, message);
      this.#o.onRejected?.(message);
      return;
    }
    this.#o.apply(value);
    this.#o.onRejected?.(undefined);
    this.#version = copy.version;
    this.#by = copy.by;
    this.#at = copy.at;
    this.#source = this.#o.store.shared ? 'cluster' : 'file';
    if (why !== 'start') this.#log.info({ version: copy.version, by: copy.by }, 'shared configuration applied');
    // The file matters when the node starts: a difference then is reported. A change made at run time leaves every
    // file behind by design (the cluster's copy is the one changed); it only clears a report the change settled.
    if (why === 'start' || this.#differs || this.#compareNext) {
      if (why !== 'start') this.#compareNext = false;
      this.#compare(value, copy);
    }
  }

  /** Reports a configuration file that says otherwise than the copy in force (the cluster's wins: docs/cluster.md). */
  #compare(value: T, copy: SharedCopy<T>): void {
    if (!this.#o.store.shared) return;
    let local: T;
    try {
      local = this.#o.parse(this.#o.local());
    } catch {
      return;
    }
    const differs = canonical(local) !== canonical(value);
    if (differs === this.#differs) return;
    this.#differs = differs;
    if (!differs) return this.#o.onDiffers?.(undefined);
    const message = `this node's configuration file does not match the cluster's ${this.#o.name} (version ${copy.version}, written by ${copy.by} at ${copy.at}): the cluster's copy is in force; change it on any peer (the admin API or mra-edge), or make this file's copy the cluster's with the config-push action`;
    this.#log.warn({ version: copy.version, by: copy.by }, message);
    this.#o.onDiffers?.(message);
  }
}

/** JSON with object keys sorted, so two equal values compare equal whatever order their fields were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}
