import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { TlsFiles } from '../traversal/index.js';

/**
 * What a composition root hands each plane it wires: configuration already validated, the logger, the shared
 * store, the node's TLS material, a place to publish status, and a place to register what must stop on exit.
 * Planes receive only this, never another plane's object.
 */
export interface NodeContext<C> {
  cfg: C;
  log: Logger;
  store: Store;
  tls: TlsFiles;
  /** Adds a section to GET /api/status (and so to the status page and metrics). */
  addStatus(section: string, read: () => unknown): void;
  /** Registers a stop step; steps run in reverse order of registration when the node drains. */
  onClose(step: () => Promise<void> | void): void;
}

export interface ContextHandle<C> {
  ctx: NodeContext<C>;
  status(): Record<string, unknown>;
  close(): Promise<void>;
}

export function createContext<C>(base: Omit<NodeContext<C>, 'addStatus' | 'onClose'>, header: Record<string, unknown>): ContextHandle<C> {
  const sections = new Map<string, () => unknown>();
  const steps: Array<() => Promise<void> | void> = [];
  const ctx: NodeContext<C> = {
    ...base,
    addStatus(section, read) {
      if (sections.has(section)) throw new Error(`status section ${section} registered twice`);
      sections.set(section, read);
    },
    onClose(step) {
      steps.push(step);
    },
  };
  return {
    ctx,
    status() {
      const doc: Record<string, unknown> = { ...header };
      for (const [name, read] of sections) doc[name] = read();
      return doc;
    },
    async close() {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (err) {
          base.log.error({ err: (err as Error).message }, 'error while stopping');
        }
      }
      steps.length = 0;
    },
  };
}
