import { SharedSetting, type SharedSettingOptions, type SharedSettingStatus } from './shared-setting.js';
import type { NodeContext } from './context.js';
import { BadInput } from './errors.js';

/** How often each peer reads the version of a shared setting again, besides the notices (which are at most once). */
export const SHARED_CONFIG_POLL_MS = 5000;

/** What of the node context a shared setting uses. */
export type SharingContext = Pick<
  NodeContext<{ name: string }>,
  'cfg' | 'store' | 'log' | 'alarm' | 'clearAlarm' | 'addStatus' | 'addAction' | 'onClose'
>;

type PlaneOptions<T> = Pick<SharedSettingOptions<T>, 'name' | 'parse' | 'apply' | 'local'> & { pollMs?: number };

// The settings of one node, so that one status section and one push action cover them all, whichever plane owns each.
const registries = new WeakMap<object, Map<string, SharedSetting<unknown>>>();

/**
 * A plane's configuration that every peer of the cluster holds alike (docs/cluster.md, "Shared configuration"): the
 * setting lives in the node's store when it is shared, with the alarms `config.<name>-differs` (this node's file says
 * otherwise than the cluster's copy in force) and `config.<name>-rejected` (a copy this node cannot apply), the
 * `sharedConfig` status section and the `config-push` action (this node's file becomes the cluster's copy). In memory
 * the file's copy is in force and a change applies to this node alone. The caller awaits `start()` before it serves.
 */
export function shareSetting<T>(ctx: SharingContext, o: PlaneOptions<T>): SharedSetting<T> {
  const alarm = (what: string, severity: 'warning' | 'error') => (message: string | undefined) =>
    message ? ctx.alarm(`config.${o.name}-${what}`, severity, message) : ctx.clearAlarm(`config.${o.name}-${what}`);
  const setting = new SharedSetting<T>({
    ...o,
    store: ctx.store,
    node: ctx.cfg.name,
    pollMs: o.pollMs ?? SHARED_CONFIG_POLL_MS,
    log: ctx.log,
    onDiffers: alarm('differs', 'warning'),
    onRejected: alarm('rejected', 'error'),
  });
  let settings = registries.get(ctx);
  if (!settings) {
    const all = new Map<string, SharedSetting<unknown>>();
    registries.set(ctx, all);
    settings = all;
    // In memory (one process) the file is the only copy: no section, nothing to push.
    if (ctx.store.shared) {
      ctx.addStatus('sharedConfig', () =>
        Object.fromEntries([...all].map(([name, s]): [string, SharedSettingStatus] => [name, s.status()])),
      );
      ctx.addAction('config-push', async (input) => {
        const name = input.setting;
        const s = typeof name === 'string' ? all.get(name) : undefined;
        if (!s) throw new BadInput(`setting: is required, one of ${[...all.keys()].join(', ')}`);
        const copy = await s.push();
        return { setting: s.name, version: copy.version, shared: true };
      });
    }
  }
  if (settings.has(o.name)) throw new Error(`shared setting ${o.name} registered twice`);
  settings.set(o.name, setting as SharedSetting<unknown>);
  ctx.onClose(() => setting.close());
  return setting;
}
