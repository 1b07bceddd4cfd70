// Server transactions (RFC 3261 §17.2, RFC 6026 for INVITE Accepted), reliable-transport subset. They
// absorb retransmitted requests by replaying the last response, so the TU sees each request once.
import type { SipRequest, SipResponse } from '../../../src/sip/message/message.js';
import { createResponse } from '../../../src/sip/message/proxy.js';
import type { TimerValues } from './timers.js';
import { Transaction, type Send, type TransactionState } from './transaction.js';

export interface ServerTransactionEvents {
  /** Timer H fired: the ACK for a non-2xx final response never came (§17.2.1). */
  onTimeout?(txn: ServerTransaction): void;
  onTransportError?(err: Error, txn: ServerTransaction): void;
  onTerminated?(txn: ServerTransaction): void;
}

export abstract class ServerTransaction extends Transaction {
  readonly request: SipRequest;
  /** Set by the TU to hear about timeouts, transport errors and the end of the transaction. */
  events: ServerTransactionEvents = {};
  protected readonly reply: Send;
  protected lastResponse: SipResponse | null = null;

  constructor(
    id: string,
    initial: TransactionState,
    request: SipRequest,
    reply: Send,
    timers: TimerValues,
    onTerminated: (t: Transaction) => void,
  ) {
    super(id, initial, timers, (t) => {
      onTerminated(t);
      (t as ServerTransaction).events.onTerminated?.(t as ServerTransaction);
    });
    this.request = request;
    this.reply = reply;
  }

  /** The TU's response; throws if the transaction can no longer send one (a TU bug, not a wire fault). */
  abstract respond(res: SipResponse): void;
  /** A retransmission of the request (or, for INVITE, its ACK) matched this transaction. */
  abstract receiveRequest(req: SipRequest): void;

  get finalSent(): boolean {
    return this.lastResponse !== null && this.lastResponse.status >= 200;
  }

  protected transmit(res: SipResponse): boolean {
    try {
      this.reply(res);
      return true;
    } catch (err) {
      this.events.onTransportError?.(err instanceof Error ? err : new Error(String(err)), this);
      this.terminate();
      return false;
    }
  }

  protected replayLast(): void {
    if (this.lastResponse) this.transmit(this.lastResponse);
  }
}

export class InviteServerTransaction extends ServerTransaction {
  protected readonly transitions: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
    proceeding: ['proceeding', 'completed', 'accepted', 'terminated'],
    completed: ['confirmed', 'terminated'],
    confirmed: ['terminated'],
    accepted: ['terminated'],
    calling: [],
    trying: [],
    terminated: [],
  };

  constructor(
    id: string,
    request: SipRequest,
    reply: Send,
    timers: TimerValues,
    onTerminated: (t: Transaction) => void,
  ) {
    super(id, 'proceeding', request, reply, timers, onTerminated);
    // §17.2.1: answer 100 Trying ourselves if the TU is slow, so the client stops retransmitting.
    this.startTimer('trying', () => {
      if (this.lastResponse === null) this.respond(createResponse(this.request, 100));
    });
  }

  respond(res: SipResponse): void {
    const state = this.state;
    if (state === 'accepted' && res.status >= 200 && res.status < 300) {
      this.transmit(res); // the TU's own 2xx retransmissions pass through (RFC 6026 §7.1)
      return;
    }
    if (state !== 'proceeding') throw new Error(`INVITE server transaction ${this.id}: cannot respond in ${state}`);
    this.stopTimer('trying');
    this.lastResponse = res;
    if (res.status < 200) {
      this.transmit(res);
    } else if (res.status < 300) {
      this.transition('accepted');
      if (this.transmit(res)) this.startTimer('L', () => this.transition('terminated'));
    } else {
      this.transition('completed');
      if (this.transmit(res)) {
        this.startTimer('H', () => {
          this.events.onTimeout?.(this);
          this.transition('terminated');
        });
      }
    }
  }

  receiveRequest(req: SipRequest): void {
    const state = this.state;
    if (req.method === 'ACK') {
      if (state === 'completed') {
        this.stopTimer('H');
        this.transition('confirmed');
        this.startTimer('I', () => this.transition('terminated'));
      }
      return;
    }
    if (state === 'proceeding' || state === 'completed') this.replayLast();
    // In Accepted a retransmitted INVITE is absorbed silently: the TU re-sends its 2xx on its own schedule.
  }
}

export class NonInviteServerTransaction extends ServerTransaction {
  protected readonly transitions: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
    trying: ['proceeding', 'completed', 'terminated'],
    proceeding: ['proceeding', 'completed', 'terminated'],
    completed: ['terminated'],
    calling: [],
    confirmed: [],
    accepted: [],
    terminated: [],
  };

  constructor(
    id: string,
    request: SipRequest,
    reply: Send,
    timers: TimerValues,
    onTerminated: (t: Transaction) => void,
  ) {
    super(id, 'trying', request, reply, timers, onTerminated);
  }

  respond(res: SipResponse): void {
    const state = this.state;
    if (state !== 'trying' && state !== 'proceeding')
      throw new Error(`non-INVITE server transaction ${this.id}: cannot respond in ${state}`);
    this.lastResponse = res;
    if (res.status < 200) {
      this.transition('proceeding');
      this.transmit(res);
      return;
    }
    this.transition('completed');
    if (this.transmit(res)) this.startTimer('J', () => this.transition('terminated'));
  }

  receiveRequest(_req: SipRequest): void {
    // In Trying nothing has been sent yet, so the retransmission is simply dropped (§17.2.2).
    if (this.state === 'proceeding' || this.state === 'completed') this.replayLast();
  }
}
