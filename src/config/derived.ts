import type { CoreConfig, EdgeConfig } from './schema.js';

/** Multiplexed traversal media: 6 RTP/RTCP pairs (36000-36011) on a large node, 1 pair otherwise. */
export function muxPortCount(cfg: Pick<EdgeConfig | CoreConfig, 'size'>): number {
  return cfg.size === 'large' ? 12 : 2;
}
