// A session description as the call model reads it: neutral, plain data, no SDP text. SDP is translated into this
// where it enters (sdp-translate.ts) and written back from it where it leaves, so a policy (the edge's relay, core's
// SRTP B2BUA, the ng relay role) decides on streams, addresses, ports, keys and directions, never on lines.

/** RFC 3264 §5.1 media direction of a stream, as its sender declares it. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface Transport {
  address: string;
  port: number;
}

/** One m= line. */
export interface StreamDescription {
  /** Its position among the m= lines (an answer's streams line up with the offer's). */
  index: number;
  /** audio, video, application (BFCP, content), ... */
  media: string;
  /** Where it receives RTP; port 0: the stream is off (rejected or disabled). */
  address: string;
  port: number;
  /** RTP/AVP, RTP/SAVP, RTP/AVPF, RTP/SAVPF, UDP/BFCP, UDP/TLS/RTP/SAVPF... */
  proto: string;
  /** Payload formats, as the m= line lists them. */
  formats: string[];
  /** RFC 5761: RTCP on the RTP port. */
  rtcpMux: boolean;
  /** Where it receives RTCP when it says so (RFC 3605 a=rtcp); undefined: RTP port + 1 (or the RTP port with rtcp-mux). */
  rtcpPort?: number;
  direction: Direction;
  /**
   * The a=crypto values (RFC 4568 SDES), as they are written: a policy that does not key this stream passes them
   * byte for byte; one that does reads them (crypto.ts in src/sdp) and writes its own.
   */
  crypto: string[];
  /** RFC 8445/8839 ICE: its credentials and candidates (a=candidate values), from the m= section or the session. */
  ice?: IceDescription;
  /** DTLS-SRTP (RFC 5763): a=setup and a=fingerprint. A relay that does not terminate DTLS drops them. */
  dtls?: { setup?: string; fingerprints: string[] };
}

export interface IceDescription {
  ufrag: string;
  pwd: string;
  /** a=ice-options (trickle, ice2...), if any. */
  options?: string;
  candidates: string[];
}

export interface SessionDescription {
  /** The session-level c= address, if there is one (each stream has its own effective address). */
  address?: string;
  /** The o= line's address (RFC 8866 §5.2), which a relay may replace with its own. */
  origin?: string;
  /** Session-level a=ice-lite (RFC 8445 §2.5). */
  iceLite?: boolean;
  streams: StreamDescription[];
}

/** What a relay carries: RTP profiles only (RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF); DTLS or BFCP are turned off. */
export const relayable = (s: StreamDescription): boolean => s.port !== 0 && /^RTP\/S?AVPF?$/.test(s.proto);
export const secureProto = (proto: string): string => proto.replace(/^RTP\/AVP/, 'RTP/SAVP');
export const plainProto = (proto: string): string => proto.replace(/^RTP\/SAVP/, 'RTP/AVP');

/** Where a stream receives RTP and, when it says or implies it, RTCP. */
export function streamEndpoints(
  s: Pick<StreamDescription, 'address' | 'port' | 'rtcpMux' | 'rtcpPort'>,
  address = s.address,
): { rtp: Transport; rtcp?: Transport } {
  const rtp = { address, port: s.port };
  if (s.rtcpMux) return { rtp, rtcp: rtp };
  return s.rtcpPort === undefined ? { rtp } : { rtp, rtcp: { address, port: s.rtcpPort } };
}

/** The stream moved to `address`:`port` (our relay), with another proto if given; RTCP follows it (port + 1). */
export function moved(s: StreamDescription, address: string, port: number, proto = s.proto): StreamDescription {
  return { ...s, address, port, proto, ...(s.rtcpPort !== undefined ? { rtcpPort: port + 1 } : {}) };
}

/**
 * RFC 3264 §8.4's old-style hold: a live stream (port not 0) at c=0.0.0.0. Its sender will receive nothing, whatever
 * its direction says; a node keeps the stream's relay as it was (remote, keys, latched source) and says the same
 * thing towards the other side with a direction instead (held()).
 */
export const heldByAddress = (s: StreamDescription): boolean => s.port !== 0 && s.address === '0.0.0.0';

/** The direction that says what c=0.0.0.0 said: the holder does not receive. */
export function held(direction: Direction): Direction {
  return direction === 'sendrecv' ? 'sendonly' : direction === 'recvonly' ? 'inactive' : direction;
}

const WILDCARD = new Set(['0.0.0.0', '']);
/** An unspecified address: RFC 3264's old hold (c=0.0.0.0), or a wildcard a node bound to. */
export const isWildcard = (address: string | undefined): boolean => address === undefined || WILDCARD.has(address);
