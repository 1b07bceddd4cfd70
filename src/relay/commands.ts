// The ng commands over the relay's calls: ping, offer, answer, delete, query, list, statistics. Anything else is
// `result: error` with its reason. Calls live in the node's CallRegistry (one Leg per dialogue); SDP enters and
// leaves through the call model's translation (rewriteBody), the policy in between is media-policy.ts.
import type { Logger } from '../log/index.js';
import type { MediaEngine } from '../media/index.js';
import { SdpError } from '../sdp/index.js';
import { rewriteBody, type CallRegistry, type StreamEvents } from '../calls/index.js';
import type { NgDict, NgInput } from './ng/bencode.js';
import type { NgSource } from './ng/server.js';
import { mediaOptions, type MediaOptions } from './flags.js';
import { NgError, NgRequest, canonical } from './request.js';
import { RelayMedia } from './media-policy.js';
import { callFigures } from './query.js';
import {
  Dialogue,
  dialogueForAnswer,
  dialogueForOffer,
  other,
  type NgCall,
  type RelayInterface,
  type SideName,
} from './dialogue.js';

export interface RelayCommandsOptions {
  engine: MediaEngine;
  registry: CallRegistry;
  interfaces: RelayInterface[];
  log: Logger;
  maxOffersPerS: number;
  deleteDelayMs: number;
  /** Maintenance mode: offers for new calls are refused (load limit: the proxy tries its next relay). */
  maintenance: () => boolean;
  now?: () => number;
}

type Reply = Record<string, NgInput>;
const COMMANDS = ['ping', 'offer', 'answer', 'delete', 'query', 'list', 'statistics'] as const;
type Command = (typeof COMMANDS)[number];

export class RelayCommands {
  readonly calls = new Map<string, NgCall>();
  readonly counters = {
    commands: Object.fromEntries(COMMANDS.map((c) => [c, 0])) as Record<Command, number>,
    errors: 0,
    unknownCommands: 0,
    offersRateLimited: 0,
    offersAtCapacity: 0,
    offersInMaintenance: 0,
    callsDeleted: 0,
    callsTimedOut: 0,
  };
  readonly #o: RelayCommandsOptions;
  readonly #media: RelayMedia;
  readonly #now: () => number;
  readonly #started: number;
  #window = { second: 0, offers: 0 };
  #branches = 0;

  constructor(o: RelayCommandsOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#started = this.#now();
    this.#media = new RelayMedia(o.engine, (d) => this.#events(d));
  }

  /** The server's handler: one request dictionary in, one reply out. */
  handle = (dict: NgDict, source: NgSource): NgInput => {
    let command = '';
    try {
      const req = new NgRequest(dict);
      command = canonical(req.required('command'));
      if (!(COMMANDS as readonly string[]).includes(command)) {
        this.counters.unknownCommands++;
        throw new NgError(`Unrecognized command "${command}": this relay answers ${COMMANDS.join(', ')}`);
      }
      this.counters.commands[command as Command]++;
      switch (command as Command) {
        case 'ping':
          return { result: 'pong' };
        case 'offer':
          return this.#offer(req);
        case 'answer':
          return this.#answer(req);
        case 'delete':
          return this.#delete(req);
        case 'query':
          return this.#query(req);
        case 'list':
          return this.#list(req);
        case 'statistics':
          return this.#statistics();
      }
    } catch (err) {
      if (!(err instanceof NgError)) throw err;
      this.counters.errors++;
      this.#o.log.info({ plane: 'relay', command, source: source.address, reason: err.message }, 'ng command refused');
      return { result: 'error', 'error-reason': err.message };
    }
    throw new Error('unreachable');
  };

  #iface(name: string | undefined): RelayInterface {
    if (name === undefined) return this.#o.interfaces[0]!;
    const i = this.#o.interfaces.find((x) => x.name === name);
    if (!i)
      throw new NgError(
        `Unknown interface "${name}": this relay has ${this.#o.interfaces.map((x) => x.name).join(', ')}`,
      );
    return i;
  }

  /** A refusal of a new call: `load limit` for a proxy that supports it (it tries its next relay), else an error. */
  #limit(req: NgRequest, message: string): Reply {
    if (req.list('supports').some((s) => canonical(s) === 'load-limit')) return { result: 'load limit', message };
    throw new NgError(message);
  }

  #offer(req: NgRequest): Reply {
    const callId = req.required('call-id');
    const from = req.required('from-tag');
    const to = req.str('to-tag') || undefined;
    const via = req.str('via-branch') || undefined;
    const sdp = req.bytes('sdp');
    if (!sdp) throw new NgError('No SDP body in message');
    const second = Math.floor(this.#now() / 1000);
    if (this.#window.second !== second) this.#window = { second, offers: 0 };
    if (++this.#window.offers > this.#o.maxOffersPerS) {
      this.counters.offersRateLimited++;
      return this.#limit(
        req,
        `Offer rate limit reached: more than ${this.#o.maxOffersPerS} offers in one second (ng.max_offers_per_s)`,
      );
    }
    const o = mediaOptions(req, 'offer');
    let call = this.calls.get(callId);
    if (!call) {
      if (this.#o.maintenance()) {
        this.counters.offersInMaintenance++;
        return this.#limit(req, 'Maintenance mode: this relay takes no new calls');
      }
      if (this.#o.registry.atCapacity()) {
        this.counters.offersAtCapacity++;
        return this.#limit(req, 'Parallel session limit reached (capacity.calls)');
      }
    }
    let d = call ? dialogueForOffer(call, from, to, via) : undefined;
    const fresh = d === undefined;
    if (!d) {
      const now = this.#now();
      call ??= { callId, created: now, lastSignal: now, dialogues: [] };
      const leg = this.#o.registry.open({
        callId,
        client: `${from}#${++this.#branches}`,
        peer: to ?? '',
        direction: 'from client',
        flow: null,
      });
      d = new Dialogue(
        leg,
        via,
        { tags: [from], iface: this.#iface(o.direction[0]), created: now, proto: new Map() },
        { tags: to ? [to] : [], iface: this.#iface(o.direction[1]), created: now, proto: new Map() },
      );
    } else if (o.direction.length > 0) {
      // A re-offer may move either side to another interface (rtpengine remembers the first one otherwise).
      const f = d.sideOf(from)!;
      if (o.direction[0] !== undefined) d.side(f).iface = this.#iface(o.direction[0]);
      if (o.direction[1] !== undefined) d.side(other(f)).iface = this.#iface(o.direction[1]);
    }
    const side: SideName = d.sideOf(from)!;
    if (to && d.side(other(side)).tags.length === 0) d.retag(other(side), to);
    let result: ReturnType<RelayMedia['offer']> | undefined;
    let body: Buffer;
    try {
      body = rewriteBody(sdp, (desc) => {
        d!.side(side).sdp = structuredClone(desc);
        result = this.#media.offer(d!, side, desc, o);
        return result.out;
      });
    } catch (err) {
      if (fresh) this.#o.registry.discard(d.leg.key);
      throw this.#refusal(err);
    }
    if (fresh) {
      if (!this.calls.has(callId)) this.calls.set(callId, call!);
      call!.dialogues.push(d);
    }
    this.#touch(call!, d, o);
    return this.#ok(body, [...o.warnings, ...result!.warnings]);
  }

  #answer(req: NgRequest): Reply {
    const callId = req.required('call-id');
    const from = req.required('from-tag');
    const to = req.required('to-tag');
    const via = req.str('via-branch') || undefined;
    const sdp = req.bytes('sdp');
    if (!sdp) throw new NgError('No SDP body in message');
    const o = mediaOptions(req, 'answer');
    const call = this.calls.get(callId);
    if (!call) throw new NgError('Unknown call-id');
    const d = dialogueForAnswer(call, from, to, via);
    if (!d) throw new NgError(`Unknown tag: no offer from "${from}" in this call`);
    const answerer = d.sideOf(to) ?? other(d.offer?.from ?? 'a');
    d.retag(answerer, to);
    if (o.label !== undefined) d.side(answerer).label = o.label;
    let result: ReturnType<RelayMedia['answer']> | undefined;
    let body: Buffer;
    try {
      body = rewriteBody(sdp, (desc) => {
        d.side(answerer).sdp = structuredClone(desc);
        result = this.#media.answer(d, answerer, desc, o);
        return result.out;
      });
    } catch (err) {
      throw this.#refusal(err);
    }
    this.#touch(call, d);
    return this.#ok(body, [...o.warnings, ...result!.warnings]);
  }

  #refusal(err: unknown): Error {
    if (err instanceof SdpError) return new NgError(`Failed to parse SDP: ${err.message}`);
    if (err instanceof NgError) return err;
    // The engine's own refusals (an exhausted port range) are the proxy's business too.
    if (err instanceof Error && /port|range|closed/i.test(err.message))
      return new NgError(`Ran out of ports: ${err.message}`);
    return err as Error;
  }

  /** Signalling on a call: it is alive (a pending delete of the dialogue is called off), its labels noted. */
  #touch(call: NgCall, d: Dialogue, o?: MediaOptions): void {
    call.lastSignal = this.#now();
    d.leg.lastSeen = call.lastSignal;
    if (o?.label !== undefined && d.offer) d.side(d.offer.from).label = o.label;
    if (call.deleting?.dialogues.delete(d) && call.deleting.dialogues.size === 0) {
      clearTimeout(call.deleting.timer);
      call.deleting = undefined;
    }
  }

  #ok(sdp: Buffer, warnings: string[]): Reply {
    return { result: 'ok', sdp, ...(warnings.length ? { warning: warnings.join('; ') } : {}) };
  }

  /** The dialogues a delete or a query names: all of the call, those of a tag, of a pair, or of a branch. */
  #select(call: NgCall, from?: string, to?: string, via?: string): Dialogue[] {
    return call.dialogues.filter((d) => {
      if (from !== undefined && d.sideOf(from) === undefined) return false;
      if (to !== undefined && d.sideOf(to) === undefined) return false;
      return via === undefined || d.via === undefined || d.via === via;
    });
  }

  #delete(req: NgRequest): Reply {
    const callId = req.required('call-id');
    const from = req.str('from-tag') || undefined;
    const to = req.str('to-tag') || undefined;
    const via = req.str('via-branch') || undefined;
    const fatal = req.list('flags').some((f) => canonical(f) === 'fatal');
    const delaySetting = req.int('delete-delay');
    if (delaySetting !== undefined && delaySetting < 0) throw new NgError('"delete delay" must not be negative');
    const delayMs = delaySetting !== undefined ? delaySetting * 1000 : this.#o.deleteDelayMs;
    const call = this.calls.get(callId);
    const chosen = call ? this.#select(call, from, to, via) : [];
    if (!call || chosen.length === 0) {
      if (fatal) throw new NgError("Call-ID not found or tags didn't match");
      return { result: 'ok', warning: "Call-ID not found or tags didn't match" };
    }
    const figures = req.list('flags').some((f) => canonical(f) === 'fast') ? {} : callFigures(call, chosen);
    if (delayMs <= 0) this.#end(call, chosen, 'bye');
    else {
      const set = new Set([...(call.deleting?.dialogues ?? []), ...chosen]);
      if (call.deleting) clearTimeout(call.deleting.timer);
      const timer = setTimeout(() => this.#end(call, [...set], 'bye'), delayMs);
      timer.unref();
      call.deleting = { at: this.#now() + delayMs, timer, dialogues: set };
    }
    return { result: 'ok', ...figures };
  }

  /** Ends dialogues of a call now (their relays close, the registry counts why); the call goes with its last. */
  #end(call: NgCall, dialogues: Dialogue[], why: 'bye' | 'timedOut'): void {
    for (const d of dialogues) {
      const i = call.dialogues.indexOf(d);
      if (i < 0) continue;
      call.dialogues.splice(i, 1);
      call.deleting?.dialogues.delete(d);
      this.#o.registry.end(d.leg.key, why);
    }
    if (call.dialogues.length === 0 && this.calls.get(call.callId) === call) {
      if (call.deleting) clearTimeout(call.deleting.timer);
      this.calls.delete(call.callId);
      if (why === 'bye') this.counters.callsDeleted++;
      else this.counters.callsTimedOut++;
    }
  }

  /** A leg of the registry ended by itself (an offer never answered, the registry's close): the dialogue goes too. */
  forget(legKey: string): void {
    for (const call of this.calls.values()) {
      const d = call.dialogues.find((x) => x.leg.key === legKey);
      if (d) return this.#end(call, [d], 'timedOut');
    }
  }

  #query(req: NgRequest): Reply {
    const call = this.calls.get(req.required('call-id'));
    if (!call) throw new NgError('Unknown call-id');
    const chosen = this.#select(call, req.str('from-tag') || undefined, req.str('to-tag') || undefined);
    return { result: 'ok', ...callFigures(call, chosen) };
  }

  #list(req: NgRequest): Reply {
    const limit = req.int('limit') ?? 32;
    if (limit <= 0) throw new NgError('"limit" must be above 0');
    return { result: 'ok', calls: [...this.calls.keys()].slice(0, limit) };
  }

  #statistics(): Reply {
    const c = this.counters;
    const { packets, errors } = this.relayed();
    const ended = this.#o.registry.ended;
    return {
      result: 'ok',
      statistics: {
        currentstatistics: {
          sessionsown: this.calls.size,
          sessionsforeign: 0,
          sessionstotal: this.calls.size,
          transcodedmedia: 0,
        },
        totalstatistics: {
          uptime: String(Math.floor((this.#now() - this.#started) / 1000)),
          managedsessions: c.callsDeleted + c.callsTimedOut + this.calls.size,
          rejectedsessions: c.offersAtCapacity + c.offersRateLimited + c.offersInMaintenance,
          timeoutsessions: c.callsTimedOut,
          regularterminatedsessions: c.callsDeleted,
          forcedterminatedsessions: 0,
          relayedpackets: packets,
          relayedpacketerrors: errors,
          endedlegs: { ...ended },
        },
        controlstatistics: {
          totalpingcount: c.commands.ping,
          totaloffercount: c.commands.offer,
          totalanswercount: c.commands.answer,
          totaldeletecount: c.commands.delete,
          totalquerycount: c.commands.query,
          totallistcount: c.commands.list,
          totalstatistics: c.commands.statistics,
          totalerrorcount: c.errors,
        },
      },
    };
  }

  /**
   * Packets forwarded since the engine started (its workers' count and its kernel path's, as rtpengine's
   * relayedpackets counts its kernel module's), and the drops of the calls held now.
   */
  relayed(): { packets: number; errors: number } {
    const packets = this.#o.engine.traffic().packetsOut;
    let errors = 0;
    for (const call of this.calls.values())
      for (const d of call.dialogues)
        for (const s of d.leg.streams) {
          const st = s?.stats();
          if (st) for (const l of [st.a, st.b]) errors += Object.values(l.drops).reduce((x, y) => x + y, 0);
        }
    return { packets, errors };
  }

  /**
   * A relay's events: a media timeout on one of its legs is noted; when every leg of the dialogue has gone silent
   * (none received anything since its timeout) the dialogue has ended unseen, as rtpengine's --timeout ends a call.
   */
  #events(d: Dialogue): StreamEvents {
    return {
      authFailures: (stream, side, count) =>
        this.#o.log.warn(
          { plane: 'relay', leg: d.leg.key, stream: stream.index, side, count },
          'relay SRTP authentication failures: packets dropped',
        ),
      timeout: (stream, side) => {
        const st = stream.stats();
        if (!st || !d.leg.answered) return;
        d.silent.set(`${stream.index}${side}`, st[side].packetsIn);
        const legs = d.leg.streams.flatMap((s) => (s ? (['a', 'b'] as const).map((x) => [s, x] as const) : []));
        const allSilent = legs.every(([s, x]) => {
          const was = d.silent.get(`${s.index}${x}`);
          return was !== undefined && s.stats()?.[x].packetsIn === was;
        });
        if (!allSilent) return;
        const call = this.calls.get(d.leg.callId);
        this.#o.log.info(
          { plane: 'relay', callId: d.leg.callId, leg: d.leg.key },
          'relay media timeout on every leg: dialogue ended',
        );
        if (call) this.#end(call, [d], 'timedOut');
      },
      closed: () => {},
    };
  }

  /** Every call and pending delete gone (the node is stopping; the registry closes the legs). */
  close(): void {
    for (const call of this.calls.values()) if (call.deleting) clearTimeout(call.deleting.timer);
    this.calls.clear();
  }
}
