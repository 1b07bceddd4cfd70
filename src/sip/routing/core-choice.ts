import type { MessageChannel } from '../../traversal/index.js';
import type { SipRequest } from '../message/index.js';

/**
 * The core an edge sends a client's request to, among the cores that hold a SIP channel to it (a cluster: every core
 * links to every edge). A request in a dialog goes to the core the dialog names (its Record-Route user is
 * `mra-<core node>`) while that core is up, so a dialog stays on its core; a new dialog or registration goes to the
 * core its Call-ID hashes to among those up, which shares the load and keeps a registration's refreshes and a call's
 * CANCEL on one core while the set holds. When the named core is gone, the hash picks the one that adopts the dialog.
 */
export function chooseCore(
  cores: readonly MessageChannel[],
  callId: string,
  named?: string,
): MessageChannel | undefined {
  const live = cores.filter((c) => !c.closed);
  if (live.length <= 1) return live[0];
  if (named !== undefined) {
    const ch = live.find((c) => c.info.peerNode === named);
    if (ch) return ch;
  }
  live.sort((a, b) => (a.info.peerNode < b.info.peerNode ? -1 : a.info.peerNode > b.info.peerNode ? 1 : 0));
  return live[fnv1a(callId) % live.length];
}

/** The core node a dialog's route names: the first Route whose user is core's own (`mra-<node>`), if any. */
export function namedCore(req: SipRequest): string | undefined {
  for (const r of req.routes()) {
    const user = r.uri.kind === 'sip' ? r.uri.user : null;
    if (user?.startsWith('mra-')) return user.slice(4);
  }
  return undefined;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
