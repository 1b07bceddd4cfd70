// A call leg: one remote client in an INVITE dialog, as a node carries it (a call between two remote clients through
// one node is two legs of one call). It owns its media streams, one per relayed m= line: closing the leg closes them.
import { randomUUID } from 'node:crypto';
import type { MediaEngine, LegOptions } from '../media/index.js';
import type { StreamDescription } from './description.js';
import { MediaStream, type MediaStreamData, type StreamEvents } from './media-stream.js';

export type LegDirection = 'from client' | 'to client';
export type LegState = 'setup' | 'active';

export interface LegInit {
  callId: string;
  /** user@host of the remote client on this leg. */
  client: string;
  /** user@host of the other party. */
  peer: string;
  /** Who sent the INVITE: the client ('from client') or the inside ('to client'). */
  direction: LegDirection;
  /** The client's connection where the node knows it (the edge): a connection that closes ends its legs. */
  flow: string | null;
}

/** One party of a leg's dialog: its address with tag (as From/To carry it), where it is (Contact), its last CSeq. */
export interface DialogParty {
  /** The name-addr as it appears in From or To, without the tag parameter. */
  uri: string;
  tag: string | null;
  /** Its Contact URI: where requests to it go (RFC 3261 §12.1: the dialog's remote target). */
  contact: string | null;
  /** The highest CSeq number it has sent in the dialog. */
  cseq: number;
}

/**
 * What a node knows of a leg's dialog, so that it can end the call itself (a session that was not refreshed, media
 * that stopped) with a BYE to each side, and so that another node could carry the dialog on: plain data.
 */
export interface DialogData {
  client: DialogParty;
  inside: DialogParty;
  /** The route from this node to each side: the Record-Route entries beyond it, nearest first. */
  toClient: string[];
  toInside: string[];
  /** The connection towards the inside the dialog rides (core: its call-control connection's id). */
  insideConnection: string | null;
  /** RFC 4028: the session interval the last 2xx agreed (seconds) and when (ms); none without session timers. */
  sessionExpires: number | null;
  refreshedAt: number | null;
}

/** A leg as plain data: what the status page lists, and what a store would keep. */
export interface LegData extends LegInit {
  key: string;
  state: LegState;
  confirmed: boolean;
  answered: boolean;
  since: number;
  answeredAt: number | null;
  lastSeen: number;
  /** Edge: the client's offer, kept until core's answer opens the relays. */
  pendingOffer?: StreamDescription[];
  muxPair?: number;
  /** A delayed offer (RFC 3264: an INVITE without SDP) in progress: the offer is due in the 2xx, then the answer in the ACK. */
  delayed?: 'offer' | 'answer';
  dialog?: DialogData;
  streams: MediaStreamData[];
}

/** A leg's key: its Call-ID and its client's user@host. */
export const legKey = (callId: string, client: string): string => `${callId}|${client}`;

export class Leg implements LegInit {
  readonly key: string;
  readonly callId: string;
  readonly client: string;
  readonly peer: string;
  readonly direction: LegDirection;
  readonly flow: string | null;
  state: LegState = 'setup';
  confirmed = false;
  /** An SDP answer has set up its media (a media timeout before that is no news). */
  answered = false;
  readonly since: number;
  answeredAt: number | null = null;
  lastSeen: number;
  pendingOffer: StreamDescription[] | undefined;
  muxPair: number | undefined;
  delayed: 'offer' | 'answer' | undefined;
  /** Its SIP dialog, where the node keeps it (core). */
  dialog: DialogData | undefined;
  /** By m= line index; a hole is a stream that is not relayed. */
  readonly streams: Array<MediaStream | undefined> = [];
  #closed = false;

  constructor(init: LegInit, now: number) {
    this.key = legKey(init.callId, init.client);
    this.callId = init.callId;
    this.client = init.client;
    this.peer = init.peer;
    this.direction = init.direction;
    this.flow = init.flow;
    this.since = now;
    this.lastSeen = now;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Relays open on this leg. */
  get relays(): number {
    let n = 0;
    for (const s of this.streams) if (s) n++;
    return n;
  }

  /** Its SDP has set up media: relays are open, or (the edge) a client's offer waits for core's answer. */
  get hasMedia(): boolean {
    return this.relays > 0 || this.pendingOffer !== undefined;
  }

  /** Opens the stream of m= line `at.index` (closing what was there); throws the engine's error (an exhausted range) as it is. */
  openStream(
    engine: MediaEngine,
    at: { index: number; media: string },
    a: LegOptions,
    b: LegOptions,
    events: StreamEvents,
    fixedRemote?: string,
  ): MediaStream {
    if (this.#closed) throw new Error(`leg ${this.key} is closed`);
    this.closeStream(at.index);
    const stream = new MediaStream(engine, `${this.key}#${at.index}#${randomUUID()}`, at, a, b, events, fixedRemote);
    this.streams[at.index] = stream;
    return stream;
  }

  /** Opens stream `d.index` again from its stored data (an adopted call): see MediaStream.restore. */
  restoreStream(
    engine: MediaEngine,
    d: MediaStreamData,
    events: StreamEvents,
    bindAddress: string | null,
  ): MediaStream {
    if (this.#closed) throw new Error(`leg ${this.key} is closed`);
    this.closeStream(d.index);
    const stream = MediaStream.restore(engine, d, events, bindAddress);
    this.streams[d.index] = stream;
    return stream;
  }

  /** A leg as another node left it in the store (an adopted call), without its streams: restoreStream opens them. */
  static fromData(d: LegData): Leg {
    const leg = new Leg(d, d.since);
    leg.state = d.state;
    leg.confirmed = d.confirmed;
    leg.answered = d.answered;
    leg.answeredAt = d.answeredAt;
    leg.lastSeen = d.lastSeen;
    leg.pendingOffer = d.pendingOffer && structuredClone(d.pendingOffer);
    leg.muxPair = d.muxPair;
    leg.delayed = d.delayed;
    leg.dialog = d.dialog && structuredClone(d.dialog);
    return leg;
  }

  /** What the call carries, as Expressway counts calls: video if any relayed stream is, audio if only audio ("audio-only" is one m= line). */
  get kind(): 'video' | 'audio' | 'none' {
    let audio = false;
    for (const s of this.streams) {
      if (s?.media === 'video') return 'video';
      if (s) audio = true;
    }
    return audio ? 'audio' : 'none';
  }

  /** Closes stream `index`'s relay (an answer turned it off); true when there was one. */
  closeStream(index: number): boolean {
    const stream = this.streams[index];
    if (!stream) return false;
    this.streams[index] = undefined;
    stream.close();
    return true;
  }

  /** Closes every stream; the leg stays (a refused offer on a call that goes on, or the leg's end). Returns how many. */
  closeMedia(): number {
    let n = 0;
    for (let i = 0; i < this.streams.length; i++) if (this.closeStream(i)) n++;
    this.pendingOffer = undefined;
    this.delayed = undefined;
    return n;
  }

  /** The leg is over: its media closes with it. Idempotent; returns the relays it closed. */
  close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    return this.closeMedia();
  }

  /** withCounters: with each stream's SRTP counters, read from the engine (a store write; the status page needs none). */
  toData(withCounters = false): LegData {
    return {
      key: this.key,
      callId: this.callId,
      client: this.client,
      peer: this.peer,
      direction: this.direction,
      flow: this.flow,
      state: this.state,
      confirmed: this.confirmed,
      answered: this.answered,
      since: this.since,
      answeredAt: this.answeredAt,
      lastSeen: this.lastSeen,
      ...(this.pendingOffer ? { pendingOffer: structuredClone(this.pendingOffer) } : {}),
      ...(this.muxPair !== undefined ? { muxPair: this.muxPair } : {}),
      ...(this.delayed ? { delayed: this.delayed } : {}),
      ...(this.dialog ? { dialog: structuredClone(this.dialog) } : {}),
      streams: this.streams.filter((s): s is MediaStream => s !== undefined).map((s) => s.toData(withCounters)),
    };
  }
}
