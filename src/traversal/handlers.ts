import type { MessageChannel, StreamChannel } from './channel.js';
import type { ChannelKind } from './handshake.js';
import type { ChannelHandler, ChannelOfKind } from './types.js';

/** A channel is of the kind its handshake named: the SIP channel is made a MessageChannel, the others StreamChannels. */
export function isKind<K extends ChannelKind>(
  channel: MessageChannel | StreamChannel,
  kind: K,
): channel is ChannelOfKind[K] {
  return channel.info.kind === kind;
}

/** The planes' handlers by channel kind, each called with its own kind of channel (the server's and the client's). */
export class ChannelHandlers {
  readonly #byKind: { [K in ChannelKind]: Array<ChannelHandler<K>> } = { sip: [], http: [], xmpp: [] };

  add<K extends ChannelKind>(kind: K, handler: ChannelHandler<K>): void {
    this.#byKind[kind].push(handler);
  }

  /** Hands an authenticated channel to every handler of its kind. */
  deliver(channel: MessageChannel | StreamChannel): void {
    this.#deliver(channel.info.kind, channel);
  }

  #deliver<K extends ChannelKind>(kind: K, channel: MessageChannel | StreamChannel): void {
    if (isKind(channel, kind)) for (const h of this.#byKind[kind]) h(channel);
  }
}
