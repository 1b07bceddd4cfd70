// What client and server transactions share: a guarded state machine (an illegal transition is a bug
// and throws), RFC-named timers that all die with the transaction, and one termination path.
import type { SipMessage } from '../../../src/sip/message/message.js';
import type { TimerValues } from './timers.js';

export type TransactionState =
  | 'calling'
  | 'trying'
  | 'proceeding'
  | 'completed'
  | 'confirmed'
  | 'accepted'
  | 'terminated';

/** Hands a message to the transport; throwing means the transport failed (§17.1.4, §17.2.4). */
export type Send = (msg: SipMessage) => void;

export abstract class Transaction {
  readonly id: string;
  protected readonly timerValues: TimerValues;
  #state: TransactionState;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #onTerminated: (t: Transaction) => void;

  protected constructor(
    id: string,
    initial: TransactionState,
    timers: TimerValues,
    onTerminated: (t: Transaction) => void,
  ) {
    this.id = id;
    this.#state = initial;
    this.timerValues = timers;
    this.#onTerminated = onTerminated;
  }

  get state(): TransactionState {
    return this.#state;
  }

  protected abstract readonly transitions: Readonly<Record<TransactionState, readonly TransactionState[]>>;

  protected transition(to: TransactionState): void {
    if (!this.transitions[this.#state].includes(to)) {
      throw new Error(`${this.constructor.name} ${this.id}: illegal transition ${this.#state} -> ${to}`);
    }
    if (to === 'terminated') this.#end();
    else this.#state = to;
  }

  /** Starts the named timer; a zero duration fires at once, which is what "Timer K = 0" means. */
  protected startTimer(name: keyof TimerValues, onFire: () => void): void {
    const ms = this.timerValues[name];
    this.stopTimer(name);
    if (ms <= 0) {
      onFire();
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(name);
      if (this.#state !== 'terminated') onFire();
    }, ms);
    t.unref?.();
    this.#timers.set(name, t);
  }

  protected stopTimer(name: keyof TimerValues): void {
    const t = this.#timers.get(name);
    if (t) clearTimeout(t);
    this.#timers.delete(name);
  }

  /** Ends the transaction now whatever its state (layer shutdown). */
  terminate(): void {
    if (this.#state !== 'terminated') this.#end();
  }

  #end(): void {
    this.#state = 'terminated';
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#onTerminated(this);
  }
}
