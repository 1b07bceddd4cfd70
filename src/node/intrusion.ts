import type { EdgeConfig } from '../config/index.js';
import {
  IntrusionProtection,
  storeSharing,
  type CategorySettings,
  type IntrusionCategory,
  type NodeContext,
} from '../host/index.js';

const seconds = (s: number) => s * 1000;
const settings = (c: { enabled: boolean; trigger: number; window_s: number; block_s: number }): CategorySettings => ({
  enabled: c.enabled,
  trigger: c.trigger,
  windowMs: seconds(c.window_s),
  blockMs: seconds(c.block_s),
});

/**
 * The edge's intrusion protection (http.intrusion): one per node, shared by the planes that count failures
 * against it (HTTPS sign-ins and allow list, XMPP sign-ins) and the traversal listener (tunnel credentials). On a
 * shared store the failures are counted per cluster and a block on one edge is a block on all (docs/cluster.md).
 */
export function startIntrusionProtection(ctx: NodeContext<EdgeConfig>): IntrusionProtection {
  const i = ctx.cfg.http.intrusion;
  const categories: Partial<Record<IntrusionCategory, CategorySettings>> = {
    http_auth: settings(i.http_auth),
    allow_list: settings(i.allow_list),
    tunnel_auth: settings(i.tunnel_auth),
    xmpp: settings(i.xmpp),
  };
  const log = ctx.log.child({ plane: 'http' });
  const sharing = ctx.store.shared ? storeSharing(ctx.store, ctx.cfg.name, log) : undefined;
  const intrusion = new IntrusionProtection(categories, i.exemptions, log, sharing);
  ctx.onClose(() => intrusion.close());
  ctx.addStatus('intrusion', () => intrusion.status());
  return intrusion;
}
