// SDP in and out of the call model: `describe` reads a body into neutral streams, `apply` writes what a policy
// decided back into the same body. Only what changed is rewritten (the m= line's port and proto, the stream's own
// c= and a=rtcp, its a=crypto and direction, the session c=); every other line passes byte for byte.
import { Sdp, type MediaDescription } from '../sdp/index.js';
import type { Direction, IceDescription, SessionDescription, StreamDescription } from './description.js';

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
/** The attributes that make up ICE (RFC 8839 §5) at either level; ice-lite is the session's alone. */
const ICE_ATTRIBUTES = ['ice-ufrag', 'ice-pwd', 'ice-options', 'candidate', 'remote-candidates', 'end-of-candidates'];
const DTLS_ATTRIBUTES = ['setup', 'fingerprint', 'tls-id'];

type Section = Pick<MediaDescription, 'hasAttribute' | 'attributes' | 'removeAttributes' | 'addAttribute'>;

function direction(section: { hasAttribute(name: string): boolean }): Direction | undefined {
  return DIRECTIONS.find((d) => section.hasAttribute(d));
}

/** The first value of `name` in the m= section, else in the session. */
const either = (m: Section, session: Section, name: string): string | undefined =>
  m.attributes(name)[0] ?? session.attributes(name)[0];

function ice(m: Section, session: Section): IceDescription | undefined {
  const ufrag = either(m, session, 'ice-ufrag');
  const pwd = either(m, session, 'ice-pwd');
  if (ufrag === undefined || pwd === undefined) return undefined;
  const options = either(m, session, 'ice-options');
  return { ufrag, pwd, ...(options !== undefined ? { options } : {}), candidates: m.attributes('candidate') };
}

function dtls(m: Section, session: Section): StreamDescription['dtls'] {
  const fingerprints =
    m.attributes('fingerprint').length > 0 ? m.attributes('fingerprint') : session.attributes('fingerprint');
  if (fingerprints.length === 0) return undefined;
  const setup = either(m, session, 'setup');
  return { ...(setup !== undefined ? { setup } : {}), fingerprints };
}

function writeIce(m: Section, i: IceDescription | undefined): void {
  for (const name of ICE_ATTRIBUTES) m.removeAttributes(name);
  if (!i) return;
  m.addAttribute('ice-ufrag', i.ufrag);
  m.addAttribute('ice-pwd', i.pwd);
  if (i.options !== undefined) m.addAttribute('ice-options', i.options);
  for (const c of i.candidates) m.addAttribute('candidate', c);
}

function describeStream(m: MediaDescription, sdp: Sdp, sessionDirection: Direction): StreamDescription {
  const rtcpPort = m.rtcpPort;
  const i = ice(m, sdp);
  const d = dtls(m, sdp);
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
    ...(i ? { ice: i } : {}),
    ...(d ? { dtls: d } : {}),
  };
}

/** The neutral description of a parsed body. */
export function describe(sdp: Sdp): SessionDescription {
  const sessionDirection = direction(sdp) ?? 'sendrecv';
  const address = sdp.sessionAddress;
  const origin = sdp.originAddress;
  return {
    ...(address !== undefined ? { address } : {}),
    ...(origin !== undefined ? { origin } : {}),
    ...(sdp.hasAttribute('ice-lite') ? { iceLite: true } : {}),
    streams: sdp.media.map((m) => describeStream(m, sdp, sessionDirection)),
  };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const sameIce = (a: IceDescription | undefined, b: IceDescription | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.ufrag === b.ufrag &&
    a.pwd === b.pwd &&
    a.options === b.options &&
    sameList(a.candidates, b.candidates));

/**
 * Writes `out` into `sdp`, whose description was `before` (describe(sdp)): each stream's transport where it moved,
 * its a=crypto where they differ, its direction, rtcp-mux, ICE and DTLS where they changed; the session c=, the o=
 * address and a=ice-lite when they differ. ICE written for one stream moves every stream's ICE to its m= section.
 */
export function apply(sdp: Sdp, before: SessionDescription, out: SessionDescription): void {
  const iceChanged = out.streams.some((s) => !sameIce(s.ice, before.streams[s.index]?.ice));
  if (iceChanged) for (const name of ['ice-ufrag', 'ice-pwd', 'ice-options']) sdp.removeAttributes(name);
  if (out.streams.some((s) => before.streams[s.index]?.dtls && !s.dtls))
    for (const name of DTLS_ATTRIBUTES) sdp.removeAttributes(name);
  for (const s of out.streams) {
    const m = sdp.media[s.index];
    const was = before.streams[s.index];
    if (!m || !was) throw new RangeError(`no m= line ${s.index + 1} to write`);
    if (
      s.port !== was.port ||
      s.address !== was.address ||
      s.proto !== was.proto ||
      (s.rtcpPort !== undefined && s.rtcpPort !== was.rtcpPort)
    )
      m.setTransport(s.address, s.port, s.proto, s.rtcpPort);
    if (s.rtcpMux !== was.rtcpMux) {
      m.removeAttributes('rtcp-mux');
      if (s.rtcpMux) m.addAttribute('rtcp-mux');
    }
    if (iceChanged) writeIce(m, s.ice);
    if (was.dtls && !s.dtls) for (const name of DTLS_ATTRIBUTES) m.removeAttributes(name);
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
  if (out.origin !== undefined && out.origin !== before.origin) sdp.setOriginAddress(out.origin);
  if ((out.iceLite ?? false) !== (before.iceLite ?? false)) {
    sdp.removeAttributes('ice-lite');
    if (out.iceLite) sdp.addAttribute('ice-lite');
  }
}

/** Parses `body`, lets `decide` turn its description into the one to send, and returns the body that says so. */
export function rewriteBody(body: Buffer, decide: (d: SessionDescription) => SessionDescription): Buffer {
  const sdp = Sdp.parse(body);
  const before = describe(sdp);
  // The policy gets its own copy: `before` must stay what the body says, to tell what changed.
  apply(sdp, before, decide(structuredClone(before)));
  return sdp.toBuffer();
}
