// Drives a JSON-line tool (tools/relay-host.ts, tools/rtp-peer.ts) running as a child process on a host of the
// namespace topology: commands answered by id, events kept in order for a test to wait on.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

type Message = Record<string, unknown> & { id?: number; event?: string; error?: string };

const WAIT_MS = 10_000;

export class JsonChild {
  readonly events: Message[] = [];
  #next = 1;
  #pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  #waiters = new Set<() => void>();
  #stderr = '';

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#stderr += d));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let m: Message;
      try {
        m = JSON.parse(line) as Message;
      } catch {
        this.#stderr += `unparsable: ${line}\n`;
        return;
      }
      const waiting = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (waiting) {
        this.#pending.delete(m.id!);
        if (m.error) waiting.reject(new Error(`${this.label}: ${m.error}`));
        else waiting.resolve(m);
      } else {
        this.events.push(m);
      }
      this.#waiters.forEach((w) => w());
    });
    child.once('exit', (code, signal) => {
      for (const p of this.#pending.values())
        p.reject(new Error(`${this.label} exited (${code ?? signal}): ${this.#stderr.trim()}`));
      this.#pending.clear();
      this.#waiters.forEach((w) => w());
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  request<T extends Message = Message>(cmd: string, fields: Record<string, unknown> = {}, ms = WAIT_MS): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${cmd} in ${ms} ms; ${this.#stderr.trim()}`));
      }, ms);
      this.#pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...fields })}\n`);
    });
  }

  /** The first event (from the start) that `match` accepts; rejects naming what was seen instead. */
  event(match: (m: Message) => boolean, what: string, ms = WAIT_MS): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (this.exited) done(() => reject(new Error(`${this.label} exited before ${what}: ${this.#stderr.trim()}`)));
      };
      const timer = setTimeout(
        () =>
          done(() => reject(new Error(`${this.label}: no ${what} in ${ms} ms; saw ${JSON.stringify(this.events)}`))),
        ms,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }
}
