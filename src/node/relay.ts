import type { RelayConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { MemoryStore } from '../store/index.js';
import { startAdmin } from '../admin/index.js';
import { attachRelay, type RelayPlane } from '../relay/index.js';
import { createContext } from './context.js';
import { startMediaEngine } from './media.js';
import type { RunningNode } from './running-node.js';

/** The relay (docs/relay.md): the media engine on its own, driven over rtpengine's ng protocol by a SIP proxy. */
export async function startRelay(cfg: RelayConfig, log: Logger): Promise<RunningNode & { relay: RelayPlane }> {
  const store = new MemoryStore();
  // No certificate of its own: ng.tls carries the one its TLS listener needs.
  const tls = { cert: '', key: '', ca: '' };
  const node = createContext(
    { cfg, log, store, tls },
    { node: cfg.name, role: 'relay', started: new Date().toISOString() },
  );
  const { ctx } = node;
  ctx.onClose(() => store.close());
  try {
    const media = await startMediaEngine(
      { ...ctx, cfg: { ...cfg, size: 'small' } },
      cfg.media.address ?? '0.0.0.0',
      false,
      log,
    );
    const relay = await attachRelay(ctx, media);
    const admin = await startAdmin({
      address: cfg.admin.address,
      port: cfg.admin.port,
      token: cfg.admin.token,
      log,
      status: () => node.status(),
      control: node,
    });
    ctx.onClose(() => admin.close());
    return {
      role: 'relay',
      name: cfg.name,
      ports: {
        ngUdp: relay.ports.udp,
        ...(relay.ports.tcp ? { ngTcp: relay.ports.tcp } : {}),
        ...(relay.ports.tls ? { ngTls: relay.ports.tls } : {}),
        admin: admin.port,
      },
      status: () => node.status(),
      relay,
      close: () => node.close(),
    };
  } catch (err) {
    await node.close();
    throw err;
  }
}
