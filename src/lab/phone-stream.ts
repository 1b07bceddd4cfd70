// One media stream of an inside phone: its own UDP socket on the inside's address, plain RTP (as inside phones'
// media often is) sent to where the other side's SDP points while the direction allows it, packets counted each
// way, and RFC 4733 telephone-events sent on and heard from an audio stream.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomInt } from 'node:crypto';
import type { Direction } from '../calls/index.js';
import { DtmfReceiver, TELEPHONE_EVENT_PT, digitPackets } from './dtmf.js';
import { LAB_CODECS, type LabMedia, sends } from './lab-sdp.js';
import { rtpPacket } from './rtp-packet.js';

/** Packets a second and payload bytes: G.711-sized audio at a walking pace, and small video frames. */
const PACE: Record<LabMedia, { perSecond: number; payload: number }> = {
  audio: { perSecond: 5, payload: 160 },
  video: { perSecond: 10, payload: 1000 },
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class PhoneStream {
  readonly media: LabMedia;
  readonly ssrc = randomInt(1, 0xffffffff);
  /** RTP packets sent and received (telephone-events included). */
  sent = 0;
  received = 0;
  /** What this side declared in the last offer or answer. */
  direction: Direction = 'sendrecv';
  readonly #socket: dgram.Socket;
  readonly #dtmf: DtmfReceiver | undefined;
  #remote: { address: string; port: number } | undefined;
  #seq = randomInt(1, 0x8000);
  #ts = randomInt(0, 0x7fffffff);
  #timer: NodeJS.Timeout | undefined;
  /** A digit is being played: the audio packets wait (RFC 4733 §2.5.1.2: the event stands for that audio). */
  #playing = false;

  private constructor(media: LabMedia, socket: dgram.Socket, onDigits?: (digits: string) => void) {
    this.media = media;
    this.#socket = socket;
    this.#dtmf = media === 'audio' && onDigits ? new DtmfReceiver(TELEPHONE_EVENT_PT, onDigits) : undefined;
    socket.on('message', (data) => {
      this.received++;
      this.#dtmf?.feed(data);
    });
    // A send to a port that went away (the other side hung up first) is not the phone's failure.
    socket.on('error', () => {});
  }

  static async open(media: LabMedia, address: string, onDigits?: (digits: string) => void): Promise<PhoneStream> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, address);
    await once(socket, 'listening');
    return new PhoneStream(media, socket, onDigits);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Where the other side receives, and this side's direction: RTP flows while both say it may. */
  point(remote: { address: string; port: number } | undefined, direction: Direction, theirs: Direction): void {
    this.#remote = remote && remote.port !== 0 ? remote : undefined;
    this.direction = direction;
    const flowing = this.#remote !== undefined && sends(direction) && (theirs === 'sendrecv' || theirs === 'recvonly');
    if (flowing && !this.#timer) {
      this.#timer = setInterval(() => this.#tick(), 1000 / PACE[this.media].perSecond);
      this.#timer.unref();
    } else if (!flowing && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    if (this.#playing) return;
    const codec = LAB_CODECS[this.media];
    // µ-law silence for audio, filler for video: the relays never look inside.
    this.#send(
      rtpPacket(this.#nextSeq(), this.ssrc, {
        ts: this.#ts,
        pt: codec.pt,
        size: 12 + PACE[this.media].payload,
        fill: 0xff,
      }),
    );
    this.#ts = (this.#ts + codec.clock / PACE[this.media].perSecond) >>> 0;
  }

  #nextSeq(): number {
    const s = this.#seq;
    this.#seq = (this.#seq + 1) & 0xffff;
    return s;
  }

  #send(packet: Buffer): void {
    if (!this.#remote) return;
    this.sent++;
    this.#socket.send(packet, this.#remote.port, this.#remote.address);
  }

  /** Plays `digits` as telephone-events, a packet every 20 ms and 100 ms between digits; false when it cannot send. */
  async sendDigits(digits: string): Promise<boolean> {
    if (this.media !== 'audio' || !this.#timer) return false;
    this.#playing = true;
    try {
      for (const digit of digits) {
        for (const p of digitPackets(digit, { seq: () => this.#nextSeq(), ssrc: this.ssrc, ts: this.#ts })) {
          this.#send(p);
          await sleep(20);
        }
        this.#ts = (this.#ts + 160 * 8) >>> 0;
        await sleep(100);
      }
    } finally {
      this.#playing = false;
    }
    return true;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#dtmf?.close();
    this.#socket.close();
  }
}
