import type { MessageChannel, TraversalClient } from '../../traversal/index.js';
import { getParam, type SipMessage } from '../message/index.js';
import { FlowTokens } from './flow-token.js';

/** Core's Via param naming the edge a client's request came from: its answer goes back over that edge's link. */
export const VIA_FROM_EDGE = 'mra-from-edge';

export type EdgeLinks = Pick<TraversalClient, 'sip' | 'link'>;

/**
 * The edge link a message from call control goes out on (core links to every edge: a full mesh). An answer goes back
 * to the edge its request came from (core's Via says which); a request for a client to the edge its flow token names
 * (the first Route that is not core's own). A token without an edge's name (a single edge) and an answer without
 * the param take the one link there is.
 */
export function edgeToward(links: EdgeLinks, msg: SipMessage, viaMark: string): MessageChannel | undefined {
  if (!msg.isRequest) {
    const via = msg.vias()[0];
    const from = via && getParam(via.params, viaMark) !== undefined ? getParam(via.params, VIA_FROM_EDGE) : undefined;
    return from ? links.link(from) : links.sip();
  }
  for (const r of msg.routes()) {
    const user = r.uri.kind === 'sip' ? r.uri.user : null;
    if (!user || user.startsWith('mra-')) continue;
    const edge = FlowTokens.edgeOf(user);
    return edge ? links.link(edge) : links.sip();
  }
  return links.sip();
}
