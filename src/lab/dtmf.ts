// RFC 4733 telephone-events as the lab's phones send and hear them: a digit is a few packets with one RTP
// timestamp (the event's start), a growing duration, and three packets with the E bit at its end (§2.5.1.4: the
// end is sent three times, as packets may be lost). A receiver takes the digit once, at its first end packet.
import { rtpPacket } from './rtp-packet.js';

/** Event codes 0-15 (RFC 4733 §3.2): the digits, *, # and A-D. */
const EVENTS = '0123456789*#ABCD';
/** The payload type the lab's phones offer for telephone-event/8000 (a dynamic one, as phones commonly use). */
export const TELEPHONE_EVENT_PT = 101;

export function isDigits(digits: string): boolean {
  return [...digits].every((d) => EVENTS.includes(d.toUpperCase()));
}

/** The RTP payload of one event packet: event, E bit and volume (-10 dBm0), duration in timestamp units. */
function eventPayload(event: number, end: boolean, duration: number): Buffer {
  const p = Buffer.alloc(4);
  p[0] = event;
  p[1] = (end ? 0x80 : 0) | 10;
  p.writeUInt16BE(duration & 0xffff, 2);
  return p;
}

/**
 * The packets of one digit at 8 kHz, 20 ms each: `steps` updates (the first with the marker bit) and the end three
 * times. `seq` gives each packet its sequence number (the stream's own, shared with its audio).
 */
export function digitPackets(
  digit: string,
  o: { seq: () => number; ssrc: number; ts: number; pt?: number; steps?: number },
): Buffer[] {
  const event = EVENTS.indexOf(digit.toUpperCase());
  if (event < 0) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  const pt = o.pt ?? TELEPHONE_EVENT_PT;
  const steps = o.steps ?? 5;
  const packet = (end: boolean, step: number, marker: boolean) =>
    rtpPacket(o.seq(), o.ssrc, {
      ts: o.ts,
      pt: marker ? pt | 0x80 : pt,
      payload: eventPayload(event, end, 160 * step),
    });
  const out: Buffer[] = [];
  for (let i = 1; i <= steps; i++) out.push(packet(false, i, i === 1));
  for (let i = 0; i < 3; i++) out.push(packet(true, steps, false));
  return out;
}

/**
 * Hears digits in a stream's RTP: `feed` each packet; a telephone-event's end gives its digit once. The digits of
 * one dialling come out together once the line has been quiet `quietMs` (as a person reads a number off a display).
 */
export class DtmfReceiver {
  #heard = '';
  #lastEventTs: number | undefined;
  #quiet: NodeJS.Timeout | undefined;

  constructor(
    private readonly pt: number,
    private readonly onDigits: (digits: string) => void,
    private readonly quietMs = 1000,
  ) {}

  /** True when the packet was a telephone-event (whatever its part): it is not media to play or echo. */
  feed(packet: Buffer): boolean {
    if (packet.length < 12 || (packet[1]! & 0x7f) !== this.pt) return false;
    const csrcs = 12 + 4 * (packet[0]! & 0x0f);
    const extension = packet[0]! & 0x10 && packet.length >= csrcs + 4 ? 4 + 4 * packet.readUInt16BE(csrcs + 2) : 0;
    const header = csrcs + extension;
    if (packet.length < header + 4) return true;
    const ts = packet.readUInt32BE(4);
    if (packet[header + 1]! & 0x80 && ts !== this.#lastEventTs) {
      this.#lastEventTs = ts;
      this.#heard += EVENTS[packet[header]!] ?? '?';
      clearTimeout(this.#quiet);
      this.#quiet = setTimeout(() => this.#flush(), this.quietMs);
      this.#quiet.unref();
    }
    return true;
  }

  #flush(): void {
    const digits = this.#heard;
    this.#heard = '';
    if (digits) this.onDigits(digits);
  }

  close(): void {
    clearTimeout(this.#quiet);
  }
}
