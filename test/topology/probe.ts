import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Host, Network } from './index.js';

/** The compiled tools/probe.ts beside this file in dist/. */
export const PROBE_SCRIPT = fileURLToPath(new URL('./tools/probe.js', import.meta.url));

export interface ProbeEvent {
  event: 'listening' | 'accepted' | 'datagram' | 'connected' | 'data' | 'timeout' | 'error' | 'closed';
  port?: number;
  remote?: string;
  local?: string;
  text?: string;
  code?: string;
  ms?: number;
}

/** Longer than any bound a probe is given, so a wedged probe fails the test instead of hanging it. */
const WAIT_MS = 10_000;

/** A probe process on one host: its JSON-line reports, in order, and a way to send it lines. */
export class Probe {
  readonly events: ProbeEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = '';

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ProbeEvent);
      } catch {
        this.stderr += `unparsable report: ${line}\n`;
      }
      this.waiters.forEach((w) => w());
    });
    child.once('exit', () => this.waiters.forEach((w) => w()));
  }

  /** The first report (from the start) that satisfies `match`; rejects naming what was seen instead. */
  until(match: (e: ProbeEvent) => boolean, what: string, ms = WAIT_MS): Promise<ProbeEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match);
        if (found) return done(() => resolve(found));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          return done(() =>
            reject(
              new Error(
                `${this.label} exited before ${what}; saw ${JSON.stringify(this.events)} ${this.stderr.trim()}`,
              ),
            ),
          );
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `${this.label}: no ${what} within ${ms} ms; saw ${JSON.stringify(this.events)} ${this.stderr.trim()}`,
              ),
            ),
          ),
        ms,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The outcome of a connect or send: the first of connected, data, timeout or error. */
  outcome(): Promise<ProbeEvent> {
    return this.until((e) => ['connected', 'data', 'timeout', 'error'].includes(e.event), 'outcome');
  }

  /** Everything received so far, joined: TCP may split or merge lines. */
  received(): string {
    return this.events
      .filter((e) => e.event === 'data')
      .map((e) => e.text ?? '')
      .join('');
  }

  /** Waits until the bytes received so far contain `text`. */
  receive(text: string): Promise<ProbeEvent> {
    return this.until(() => this.received().includes(text), `receipt of ${JSON.stringify(text)}`);
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

function start(net: Network, host: Host, args: string[]): Probe {
  const child = net.spawnNode(host, [PROBE_SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => {}); // the probe may have exited before a late line
  return new Probe(child, `probe ${args[0]} on ${host.name}`);
}

/** A listener on `host` bound to `address`; resolves once it is listening, with its port. */
export async function listen(
  net: Network,
  host: Host,
  proto: 'tcp' | 'udp',
  address: string,
  greeting?: string,
): Promise<{ probe: Probe; port: number }> {
  const probe = start(net, host, [`${proto}-listen`, address, ...(greeting ? [greeting] : [])]);
  const ev = await probe.until((e) => e.event === 'listening' || e.event === 'error', 'listening');
  if (ev.event !== 'listening') throw new Error(`${probe.label} cannot listen on ${address}: ${ev.code}`);
  return { probe, port: ev.port! };
}

/** A TCP connect from `host`, given up after `ms`; read the result with `outcome()`. */
export function tcpConnect(net: Network, host: Host, address: string, port: number, ms: number): Probe {
  return start(net, host, ['tcp-connect', address, String(port), String(ms)]);
}

/** One datagram from `host` and the wait (up to `ms`) for its echo; read the result with `outcome()`. */
export function udpSend(net: Network, host: Host, address: string, port: number, text: string, ms: number): Probe {
  return start(net, host, ['udp-send', address, String(port), text, String(ms)]);
}
