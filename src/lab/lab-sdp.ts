// The SDP the lab's endpoints write (the inside phones' plain RTP, the simulated clients' SRTP answers): one body
// per offer or answer, with the codecs a desk phone and a video endpoint commonly offer.
import type { Direction } from '../calls/index.js';
import type { MediaDescription } from '../sdp/index.js';
import { TELEPHONE_EVENT_PT } from './dtmf.js';

export type LabMedia = 'audio' | 'video';

/** Payload formats and their attributes: G.711 µ-law with telephone-events (RFC 4733), and H.264. */
export const LAB_CODECS: Record<LabMedia, { pt: number; formats: string[]; attributes: string[]; clock: number }> = {
  audio: {
    pt: 0,
    formats: ['0', String(TELEPHONE_EVENT_PT)],
    attributes: [
      'rtpmap:0 PCMU/8000',
      `rtpmap:${TELEPHONE_EVENT_PT} telephone-event/8000`,
      `fmtp:${TELEPHONE_EVENT_PT} 0-15`,
      'ptime:20',
    ],
    clock: 8000,
  },
  video: {
    pt: 97,
    formats: ['97'],
    attributes: ['rtpmap:97 H264/90000', 'fmtp:97 profile-level-id=42e01f;packetization-mode=1'],
    clock: 90000,
  },
};

/** One m= line of a body the lab writes; port 0 turns the stream off (an answer refusing it). */
export interface LabStreamLine {
  media: string;
  port: number;
  proto: string;
  formats: string[];
  /** Its a= lines without the "a=" (rtpmap, fmtp, crypto, rtcp-mux); the direction is added from `direction`. */
  attributes?: string[];
  direction?: Direction;
}

/** A whole body: `version` is o='s session version, which a new offer in the same call increments (RFC 3264 §8). */
export function labSdp(o: { user: string; address: string; version: number; streams: LabStreamLine[] }): string {
  const lines = ['v=0', `o=${o.user} 1 ${o.version} IN IP4 ${o.address}`, 's=-', `c=IN IP4 ${o.address}`, 't=0 0'];
  for (const s of o.streams) {
    lines.push(`m=${s.media} ${s.port} ${s.proto} ${s.formats.join(' ')}`);
    if (s.port === 0) continue;
    for (const a of s.attributes ?? []) lines.push(`a=${a}`);
    lines.push(`a=${s.direction ?? 'sendrecv'}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** RFC 3264 §6.1: what an answerer says to an offered direction (it receives what the offerer sends). */
export function answerDirection(offered: Direction): Direction {
  return offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : offered;
}

/** May the side that declared `d` send? */
export const sends = (d: Direction): boolean => d === 'sendrecv' || d === 'sendonly';

/** The payload type an m= section maps to `encoding` (telephone-event, PCMU...), if it does. */
export function payloadTypeOf(m: Pick<MediaDescription, 'attributes'>, encoding: string): number | undefined {
  for (const v of m.attributes('rtpmap')) {
    const [pt, name] = v.trim().split(/\s+/);
    if (name?.toLowerCase().startsWith(`${encoding.toLowerCase()}/`)) return Number(pt);
  }
  return undefined;
}

/** The a=rtpmap and a=fmtp lines of an offered m= section, which an answer accepting its formats repeats. */
export function formatAttributes(m: Pick<MediaDescription, 'attributes'>): string[] {
  return [...m.attributes('rtpmap').map((v) => `rtpmap:${v}`), ...m.attributes('fmtp').map((v) => `fmtp:${v}`)];
}
