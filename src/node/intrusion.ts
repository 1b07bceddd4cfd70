import type { EdgeConfig } from '../config/index.js';
import { IntrusionProtection, type CategorySettings, type IntrusionCategory, type NodeContext } from '../host/index.js';

const seconds = (s: number) => s * 1000;
const settings = (c: { enabled: boolean; trigger: number; window_s: number; block_s: number }): CategorySettings => ({
  enabled: c.enabled,
  trigger: c.trigger,
  windowMs: seconds(c.window_s),
  blockMs: seconds(c.block_s),
});

/**
 * The edge's intrusion protection (http.intrusion): one per node, shared by the planes that count failures
 * against it (HTTPS sign-ins and allow list, XMPP sign-ins) and the traversal listener (tunnel credentials).
 */
export function startIntrusionProtection(ctx: NodeContext<EdgeConfig>): IntrusionProtection {
  const i = ctx.cfg.http.intrusion;
  const categories: Partial<Record<IntrusionCategory, CategorySettings>> = {
    http_auth: settings(i.http_auth),
    allow_list: settings(i.allow_list),
    tunnel_auth: settings(i.tunnel_auth),
    xmpp: settings(i.xmpp),
  };
  const intrusion = new IntrusionProtection(categories, i.exemptions, ctx.log.child({ plane: 'http' }));
  ctx.onClose(() => intrusion.close());
  ctx.addStatus('intrusion', () => intrusion.status());
  return intrusion;
}
