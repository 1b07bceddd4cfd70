// A desk phone on the inside that calls one of the lab's remote users now and then and hangs up a minute later,
// so the status pages of `npm start` show a call through core and edge (a leg on each), not only registrations.
import type { Logger } from '../log/index.js';
import type { CallControl } from './call-control.js';

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
  log: Logger;
}

// The lab does not anchor media (no B2BUA yet): the offer only has to be a well-formed SDP.
const OFFER = 'v=0\r\no=lab 1 1 IN IP4 192.0.2.10\r\ns=lab desk phone\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';

export function startLabCalls(o: LabCallsOptions): { close(): void } {
  const log = o.log.child({ lab: 'desk phone' });
  const firstAfterMs = o.firstAfterMs ?? 5000;
  const everyMs = o.everyMs ?? 120_000;
  const holdMs = Math.min(o.holdMs ?? 60_000, everyMs);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const later = (ms: number, fn: () => Promise<void>) => {
    if (closed) return;
    timer = setTimeout(() => void fn(), ms);
    timer.unref();
  };

  const call = async (): Promise<void> => {
    const started = Date.now();
    const r = await o.callControl.request(o.aor, 'INVITE', OFFER, 'application/sdp');
    if (closed) return;
    const dialog = r.dialog;
    if (r.status !== 200 || !dialog) {
      log.debug({ aor: o.aor, status: r.status, reason: r.reason }, 'lab call not answered');
      return later(firstAfterMs, call);
    }
    log.info({ aor: o.aor, callId: dialog.callId }, 'lab call answered');
    later(holdMs, async () => {
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
    },
  };
}
