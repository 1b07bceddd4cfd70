// SDP in and out of the call model: `describe` reads a body into neutral streams, `apply` writes what a policy
// decided back into the same body. Only what changed is rewritten (the m= line's port and proto, the stream's own
// c= and a=rtcp, its a=crypto and direction, the session c=); every other line passes byte for byte.
import { Sdp, type MediaDescription } from '../sdp/index.js';
import type { Direction, SessionDescription, StreamDescription } from './description.js';

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

function direction(section: { hasAttribute(name: string): boolean }): Direction | undefined {
  return DIRECTIONS.find((d) => section.hasAttribute(d));
}

function describeStream(m: MediaDescription, sessionDirection: Direction): StreamDescription {
  const rtcpPort = m.rtcpPort;
  return {
    index: m.index,
    media: m.media,
    address: m.address,
    port: m.port,
    proto: m.proto,
    formats: m.formats,
    rtcpMux: m.rtcpMux,
    ...(rtcpPort !== undefined ? { rtcpPort } : {}),
    direction: direction(m) ?? sessionDirection,
    crypto: m.attributes('crypto'),
  };
}

/** The neutral description of a parsed body. */
export function describe(sdp: Sdp): SessionDescription {
  const sessionDirection = direction(sdp) ?? 'sendrecv';
  const address = sdp.sessionAddress;
  return { ...(address !== undefined ? { address } : {}), streams: sdp.media.map((m) => describeStream(m, sessionDirection)) };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Writes `out` into `sdp`, whose description was `before` (describe(sdp)): each stream's transport where it moved,
 * its a=crypto where they differ, its direction where it changed; the session c= when `out.address` differs.
 */
export function apply(sdp: Sdp, before: SessionDescription, out: SessionDescription): void {
  for (const s of out.streams) {
    const m = sdp.media[s.index];
    const was = before.streams[s.index];
    if (!m || !was) throw new RangeError(`no m= line ${s.index + 1} to write`);
    if (s.port !== was.port || s.address !== was.address || s.proto !== was.proto) m.setTransport(s.address, s.port, s.proto);
    if (!sameList(s.crypto, was.crypto)) {
      m.removeAttributes('crypto');
      for (const c of s.crypto) m.addAttribute('crypto', c);
    }
    if (s.direction !== was.direction) {
      for (const d of DIRECTIONS) m.removeAttributes(d);
      m.addAttribute(s.direction);
    }
  }
  if (out.address !== undefined && out.address !== before.address) sdp.setSessionAddress(out.address);
}

/** Parses `body`, lets `decide` turn its description into the one to send, and returns the body that says so. */
export function rewriteBody(body: Buffer, decide: (d: SessionDescription) => SessionDescription): Buffer {
  const sdp = Sdp.parse(body);
  const before = describe(sdp);
  // The policy gets its own copy: `before` must stay what the body says, to tell what changed.
  apply(sdp, before, decide(structuredClone(before)));
  return sdp.toBuffer();
}
