import type { Logger } from '../log/index.js';
import { MediaEngine } from '../media/index.js';
import type { NodeContext } from '../host/index.js';

/**
 * The node's media engine on its media.port_min..port_max at `bindAddress`: the edge with the size's traversal mux
 * pairs at the start of the range, core with none (it sends to the edge's). Closed after the planes that use it.
 */
export async function startMediaEngine(
  ctx: NodeContext<{
    size: 'small' | 'medium' | 'large';
    media: { port_min: number; port_max: number; timeout_s: number; kernel_path: 'auto' | 'off' };
  }>,
  bindAddress: string,
  mux: boolean,
  log: Logger,
): Promise<MediaEngine> {
  const { cfg } = ctx;
  const engine = await MediaEngine.create(
    {
      size: cfg.size,
      bindAddress,
      portMin: cfg.media.port_min,
      portMax: cfg.media.port_max,
      mediaTimeoutMs: Math.round(cfg.media.timeout_s * 1000),
      kernelPath: cfg.media.kernel_path,
      ...(mux ? {} : { muxPairs: 0 }),
    },
    log,
  );
  ctx.onClose(() => engine.close());
  return engine;
}
