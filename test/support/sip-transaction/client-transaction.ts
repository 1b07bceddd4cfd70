// Client transactions (RFC 3261 §17.1, RFC 6026 for INVITE Accepted), reliable-transport subset: no
// retransmission timers; Timer B/F bound the wait for a response, D/K are zero, M keeps 2xx flowing.
import type { SipRequest, SipResponse } from '../../../src/sip/message/message.js';
import { createNon2xxAck } from './requests.js';
import type { TimerValues } from './timers.js';
import { Transaction, type Send, type TransactionState } from './transaction.js';

export interface ClientTransactionUser {
  onResponse(res: SipResponse, txn: ClientTransaction): void;
  /** Timer B or F fired: no final response (the TU answers 408 upstream, §16.7 step 10). */
  onTimeout?(txn: ClientTransaction): void;
  onTransportError?(err: Error, txn: ClientTransaction): void;
  onTerminated?(txn: ClientTransaction): void;
}

export abstract class ClientTransaction extends Transaction {
  readonly request: SipRequest;
  protected readonly user: ClientTransactionUser;
  protected readonly send: Send;

  constructor(
    id: string,
    request: SipRequest,
    send: Send,
    user: ClientTransactionUser,
    timers: TimerValues,
    onTerminated: (t: Transaction) => void,
  ) {
    super(id, 'calling', timers, (t) => {
      onTerminated(t);
      user.onTerminated?.(t as ClientTransaction);
    });
    this.request = request;
    this.send = send;
    this.user = user;
  }

  /** Sends the request; called once by the layer after registering the transaction. */
  abstract start(): void;
  abstract receiveResponse(res: SipResponse): void;

  protected transmit(msg: SipRequest): boolean {
    try {
      this.send(msg);
      return true;
    } catch (err) {
      this.user.onTransportError?.(err instanceof Error ? err : new Error(String(err)), this);
      this.terminate();
      return false;
    }
  }
}

export class InviteClientTransaction extends ClientTransaction {
  protected readonly transitions: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
    calling: ['proceeding', 'completed', 'accepted', 'terminated'],
    proceeding: ['proceeding', 'completed', 'accepted', 'terminated'],
    completed: ['terminated'],
    accepted: ['terminated'],
    trying: [],
    confirmed: [],
    terminated: [],
  };
  #ack: SipRequest | null = null;

  start(): void {
    if (!this.transmit(this.request)) return;
    this.startTimer('B', () => {
      this.user.onTimeout?.(this);
      this.transition('terminated');
    });
  }

  receiveResponse(res: SipResponse): void {
    const state = this.state;
    if (state === 'terminated') return;
    if (res.status < 200) {
      if (state === 'calling' || state === 'proceeding') {
        this.stopTimer('B');
        this.transition('proceeding');
        this.user.onResponse(res, this);
      }
      return;
    }
    if (res.status < 300) {
      // 2xx goes to the TU every time: the TU (not the transaction) ACKs it, end to end (§13.2.2.4).
      if (state === 'calling' || state === 'proceeding') {
        this.stopTimer('B');
        this.transition('accepted');
        this.user.onResponse(res, this);
        this.startTimer('M', () => this.transition('terminated'));
      } else if (state === 'accepted') {
        this.user.onResponse(res, this);
      }
      return;
    }
    if (state === 'calling' || state === 'proceeding') {
      this.stopTimer('B');
      this.#ack = createNon2xxAck(this.request, res);
      this.transition('completed');
      this.user.onResponse(res, this);
      if (!this.transmit(this.#ack)) return;
      this.startTimer('D', () => this.transition('terminated'));
    } else if (state === 'completed' && this.#ack) {
      // A retransmitted final response is absorbed: the ACK goes again, the TU hears nothing (§17.1.1.2).
      this.transmit(this.#ack);
    }
  }
}

export class NonInviteClientTransaction extends ClientTransaction {
  protected readonly transitions: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
    calling: ['trying', 'terminated'],
    trying: ['proceeding', 'completed', 'terminated'],
    proceeding: ['proceeding', 'completed', 'terminated'],
    completed: ['terminated'],
    accepted: [],
    confirmed: [],
    terminated: [],
  };

  start(): void {
    this.transition('trying');
    if (!this.transmit(this.request)) return;
    this.startTimer('F', () => {
      this.user.onTimeout?.(this);
      this.transition('terminated');
    });
  }

  receiveResponse(res: SipResponse): void {
    const state = this.state;
    if (state !== 'trying' && state !== 'proceeding') return;
    if (res.status < 200) {
      this.transition('proceeding');
      this.user.onResponse(res, this);
      return;
    }
    this.stopTimer('F');
    this.transition('completed');
    this.user.onResponse(res, this);
    this.startTimer('K', () => this.transition('terminated'));
  }
}
