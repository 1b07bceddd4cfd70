// A desk phone on the inside that calls one of the lab's remote users now and then and hangs up a minute later,
// so the status pages of `npm start` show a call through core and edge (a leg on each), not only registrations.
import dgram from 'node:dgram';
import type { Logger } from '../log/index.js';
import { Sdp } from '../sdp/index.js';
import type { CallControl } from './call-control.js';
import { rtpPacket } from './rtp-packet.js';

export interface LabCallsOptions {
  callControl: CallControl;
  /** Who is called (a simulated client that picks up). */
  aor: string;
  /** The first call, once the user is registered (retried this often until then). */
  firstAfterMs?: number;
  /** From one call's start to the next one's. */
  everyMs?: number;
  /** How long a call lasts before the desk phone sends BYE. */
  holdMs?: number;
  /** The desk phone's address (its RTP socket's); its media is plain RTP, as inside phones' often is. */
  address: string;
  /** RTP packets a second while a call is up (G.711 sized: 160 bytes of payload). */
  packetsPerSecond?: number;
  log: Logger;
}

const offer = (address: string, port: number) =>
  `v=0\r\no=lab 1 1 IN IP4 ${address}\r\ns=lab desk phone\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n`;

export async function startLabCalls(o: LabCallsOptions): Promise<{ close(): void }> {
  const log = o.log.child({ lab: 'desk phone' });
  const firstAfterMs = o.firstAfterMs ?? 5000;
  const everyMs = o.everyMs ?? 120_000;
  const holdMs = Math.min(o.holdMs ?? 60_000, everyMs);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let talking: NodeJS.Timeout | undefined;
  const socket = dgram.createSocket('udp4');
  socket.on('error', (err) => log.warn({ err: err.message }, 'lab desk phone media socket error'));
  socket.on('message', () => {});
  await new Promise<void>((resolve) => socket.bind(0, o.address, resolve));
  const port = socket.address().port;
  // Sends to where the answer points until the BYE: core's inside leg, which latches and relays it out. G.711 µ-law
  // silence (0xff) at the default size.
  const talk = (answer: Buffer | undefined) => {
    const m = answer && answer.length > 0 ? Sdp.parse(answer).media.find((x) => !x.disabled) : undefined;
    if (!m) return;
    let seq = 1;
    talking = setInterval(
      () => socket.send(rtpPacket(seq++, 0x0de5c000, { fill: 0xff }), m.port, m.address),
      1000 / (o.packetsPerSecond ?? 5),
    );
    talking.unref();
  };
  const later = (ms: number, fn: () => Promise<void>) => {
    if (closed) return;
    timer = setTimeout(() => void fn(), ms);
    timer.unref();
  };

  const call = async (): Promise<void> => {
    const started = Date.now();
    const r = await o.callControl.request(o.aor, 'INVITE', offer(o.address, port), 'application/sdp');
    if (closed) return;
    const dialog = r.dialog;
    if (r.status !== 200 || !dialog) {
      log.debug({ aor: o.aor, status: r.status, reason: r.reason }, 'lab call not answered');
      return later(firstAfterMs, call);
    }
    log.info({ aor: o.aor, callId: dialog.callId }, 'lab call answered');
    try {
      talk(r.body);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'lab call answer SDP unusable: no media');
    }
    later(holdMs, async () => {
      clearInterval(talking);
      const bye = await o.callControl.request(o.aor, 'BYE', '', 'text/plain', 8000, [], dialog);
      log.info({ aor: o.aor, callId: dialog.callId, status: bye.status }, 'lab call ended');
      later(Math.max(0, everyMs - (Date.now() - started)), call);
    });
  };

  later(firstAfterMs, call);
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(talking);
      socket.close();
    },
  };
}
