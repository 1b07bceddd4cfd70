// The relay's calls as the ng protocol names them: a call (Call-ID) holds dialogues, each an offer/answer between
// two tagged sides (rtpengine's monologues). A dialogue is one Leg of the call model: its MediaStreams are the
// relays, one per m= line, relay leg `a` facing side a (who offered first) and `b` facing side b. A forked offer
// (another via-branch) is another dialogue; a second answerer to the same offer takes its side over (the media
// follows the latest answer, as in rtpengine), the earlier tag kept as an alias.
import type { Leg, SessionDescription, StreamDescription, StreamKey } from '../calls/index.js';
import type { MediaOptions } from './flags.js';

export type SideName = 'a' | 'b';
export const other = (s: SideName): SideName => (s === 'a' ? 'b' : 'a');

export interface RelayInterface {
  name: string;
  /** What SDP says for this side. */
  address: string;
}

export interface Side {
  /** Its tags, the current one first (a later answerer's tag replaces an earlier one, which stays an alias). */
  tags: string[];
  iface: RelayInterface;
  created: number;
  label?: string;
  /** What it last said in SDP (its own streams, before the relay rewrote them). */
  sdp?: SessionDescription;
  /** The profile it speaks per m= line (RTP/AVP, RTP/SAVP...), remembered for re-offers without transport-protocol. */
  proto: Map<number, string>;
}

/** The last offer, kept for its answers (a 183 and then a 200 both answer it). */
export interface Offer {
  from: SideName;
  streams: StreamDescription[];
  options: MediaOptions;
  /** Keys the relay offered the other side, per m= line. */
  offered: Map<number, StreamKey[]>;
  /** Whether rtcp-mux was offered to the other side, per m= line. */
  muxOffered: Map<number, boolean>;
}

export class Dialogue {
  readonly a: Side;
  readonly b: Side;
  offer: Offer | undefined;
  /** A media timeout per relay leg (`<index><side>`), with the packets it had then: all silent ends the dialogue. */
  readonly silent = new Map<string, number>();

  constructor(
    readonly leg: Leg,
    readonly via: string | undefined,
    a: Side,
    b: Side,
  ) {
    this.a = a;
    this.b = b;
  }

  side(name: SideName): Side {
    return name === 'a' ? this.a : this.b;
  }

  /** The side a tag names (its current tag or an alias). */
  sideOf(tag: string): SideName | undefined {
    if (this.a.tags.includes(tag)) return 'a';
    if (this.b.tags.includes(tag)) return 'b';
    return undefined;
  }

  tag(name: SideName): string {
    return this.side(name).tags[0] ?? '';
  }

  /** Side b has no tag yet: the offer has not been answered. */
  get unanswered(): boolean {
    return this.b.tags.length === 0;
  }

  /** Gives side `name` the tag `tag`, keeping an earlier one as an alias. */
  retag(name: SideName, tag: string): void {
    const s = this.side(name);
    const i = s.tags.indexOf(tag);
    if (i === 0) return;
    if (i > 0) s.tags.splice(i, 1);
    s.tags.unshift(tag);
  }
}

/** One Call-ID on the relay. */
export interface NgCall {
  callId: string;
  created: number;
  lastSignal: number;
  dialogues: Dialogue[];
  /** A delete with a delay is pending: when it runs, and which dialogues it ends. */
  deleting?: { at: number; timer: NodeJS.Timeout; dialogues: Set<Dialogue> };
}

/**
 * The dialogue an offer from `from` (to `to`, on `via`) belongs to: the pair of tags if both are known; else the
 * branch `from` offered on (same via-branch, or any when none is given). Undefined: a new dialogue.
 */
export function dialogueForOffer(
  call: NgCall,
  from: string,
  to: string | undefined,
  via: string | undefined,
): Dialogue | undefined {
  if (to !== undefined) {
    const pair = call.dialogues.find(
      (d) => d.sideOf(from) !== undefined && d.sideOf(to) !== undefined && d.sideOf(from) !== d.sideOf(to),
    );
    if (pair) return pair;
  }
  const mine = call.dialogues.filter((d) => d.a.tags.includes(from) && (to === undefined || d.unanswered));
  if (via !== undefined) return mine.find((d) => d.via === via);
  return mine.at(-1);
}

/** The dialogue an answer from `to` to `from`'s offer belongs to (see Dialogue for forks). */
export function dialogueForAnswer(
  call: NgCall,
  from: string,
  to: string,
  via: string | undefined,
): Dialogue | undefined {
  const pair = call.dialogues.find(
    (d) => d.sideOf(from) !== undefined && d.sideOf(to) !== undefined && d.sideOf(from) !== d.sideOf(to),
  );
  if (pair) return pair;
  const offered = call.dialogues.filter((d) => d.offer !== undefined && d.tag(d.offer.from) === from);
  const branch = via !== undefined ? offered.filter((d) => d.via === via) : offered;
  return branch.find((d) => d.unanswered) ?? branch.at(-1);
}
