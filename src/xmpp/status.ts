// The XMPP plane's `xmpp` status section, as the edge and core publish it.
import type { SectionStatus } from '../host/index.js';
import type { CoreTunnelStatus, EdgeTunnelStatus } from '../traversal/index.js';

/** The streams a node carries (stream-book.ts): `streams` is what maintenance drain waits for. */
export interface StreamsStatus<T> {
  streams: number;
  /** Streams taken since the start. */
  total: number;
  /** Streams ended by a refusal or a stream error, by reason. */
  refused: Record<string, number>;
  /** The newest streams (at most STREAM_LIST_MAX): the count is exact, the list a sample. */
  streamList: T[];
}

/** The edge's listener (its port) or core's relay, their streams and the xmpp tunnel. */
export interface XmppStatus extends SectionStatus, StreamsStatus<Record<string, unknown>> {
  streams: number;
  port?: number;
  tunnel: EdgeTunnelStatus | CoreTunnelStatus;
}
