// The lab's scheduled calls, so the status pages of `npm start` show calls through core and edge (a leg on each),
// not only registrations: each of the lab's inside phones keeps one call up with a remote user (the desk phone an
// audio call, the video endpoint a video call). In each call the phone dials digits (RFC 4733), puts the call on
// hold and resumes it, over and over; after `callMs` it calls again and hangs the old call up once the new one is
// answered, so a call of each kind is listed at all times once the users are registered.
import type { Logger } from '../log/index.js';
import { PhoneCall, type LabPhone } from './inside-phone.js';

export interface LabCallsOptions {
  /** Who calls whom: each phone keeps one call to its user (a simulated client that picks up). */
  calls: Array<{ phone: LabPhone; aor: string }>;
  /** The first call, once the user is registered (retried this often until then, and after a failed call). */
  firstAfterMs?: number;
  /** How long one call lasts before the next replaces it. */
  callMs?: number;
  /** In each call: the digits dialled after `featuresAfterMs`, a hold after twice that, the resume after thrice. */
  digits?: string;
  featuresAfterMs?: number;
  /** ...and again every `featuresEveryMs` while the call lasts. */
  featuresEveryMs?: number;
  log: Logger;
}

export const LAB_CALL_DIGITS = '1234#';

export function startLabCalls(o: LabCallsOptions): { close(): void } {
  const retryMs = o.firstAfterMs ?? 5000;
  const callMs = o.callMs ?? 120_000;
  const step = o.featuresAfterMs ?? 3000;
  const everyMs = Math.max(o.featuresEveryMs ?? 30_000, 4 * step);
  const digits = o.digits ?? LAB_CALL_DIGITS;
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const later = (ms: number, fn: () => Promise<unknown> | undefined) => {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) void fn()?.catch((err: Error) => o.log.warn({ err: err.message }, 'lab call step failed'));
    }, ms);
    t.unref();
    timers.add(t);
  };

  const keepCalling = ({ phone, aor }: { phone: LabPhone; aor: string }) => {
    /** Dials; once answered, hangs `previous` up (the call it replaces) and runs the new call's script. */
    const dial = async (previous?: PhoneCall): Promise<void> => {
      const r = await phone.call(aor);
      if (previous) await phone.hangUp(previous);
      if (closed) {
        if (r instanceof PhoneCall) await phone.hangUp(r);
        return;
      }
      if (!(r instanceof PhoneCall)) {
        o.log.debug({ phone: phone.user, aor, status: r.status, reason: r.reason }, 'lab call not answered');
        return void later(retryMs, () => dial());
      }
      const call = r;
      const cycle = (at: number) => {
        if (at + 3 * step >= callMs) return;
        later(at + step, () => phone.sendDigits(call, digits));
        later(at + 2 * step, () => phone.hold(call, true));
        later(at + 3 * step, () => phone.hold(call, false));
        cycle(at + everyMs);
      };
      cycle(0);
      later(callMs, () => (call.over ? undefined : dial(call)));
      // Ended by the other side (the user gone, the link cut): call again.
      void call.ended.then(() => {
        if (call.endedByPeer) later(retryMs, () => dial());
      });
    };
    later(retryMs, () => dial());
  };

  for (const c of o.calls) keepCalling(c);
  return {
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
