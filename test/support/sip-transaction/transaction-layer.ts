// The transaction layer (RFC 3261 §17): matches every incoming message to its transaction, creates
// server transactions for new requests, and gives the TU (a UA core or a stateful proxy) each request
// and response exactly once. CANCEL is matched to its INVITE by §17.2.3 and answered 481 when it has none.
import type { SipRequest, SipResponse } from '../../../src/sip/message/message.js';
import { createResponse } from '../../../src/sip/message/proxy.js';
import {
  type ClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransactionUser,
} from './client-transaction.js';
import { clientKey, clientKeyOfResponse, serverKey } from './keys.js';
import { createCancel } from './requests.js';
import { InviteServerTransaction, NonInviteServerTransaction, type ServerTransaction } from './server-transaction.js';
import { reliableTimers, type TimerValues } from './timers.js';
import type { Send, Transaction } from './transaction.js';
import { branchOf } from '../../../src/sip/message/via.js';

export interface TransactionUser {
  /** A new request (never a retransmission, never an ACK). The TU answers through txn.respond(). */
  onRequest(txn: ServerTransaction): void;
  /** An ACK outside any transaction: the ACK for a 2xx, which belongs to the dialog (§17.2.1 note). */
  onAck?(ack: SipRequest, reply: Send): void;
  /** A CANCEL matching a live INVITE server transaction; the TU answers 200 on cancelTxn and 487 on invite. */
  onCancel?(cancelTxn: ServerTransaction, invite: InviteServerTransaction): void;
  /** A response no client transaction claims (e.g. a 2xx retransmission after Timer M): proxies forward it (§16.7). */
  onStrayResponse?(res: SipResponse): void;
}

export interface TransactionLayerOptions {
  timers?: Partial<TimerValues>;
}

export class TransactionLayer {
  readonly #user: TransactionUser;
  readonly #timers: TimerValues;
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #servers = new Map<string, ServerTransaction>();

  constructor(user: TransactionUser, options: TransactionLayerOptions = {}) {
    this.#user = user;
    const base = reliableTimers(options.timers?.T1);
    this.#timers = { ...base, ...options.timers };
  }

  get counts(): { client: number; server: number } {
    return { client: this.#clients.size, server: this.#servers.size };
  }

  /** reply sends on the flow the request arrived on (responses follow the connection, §18.2.2). */
  receiveRequest(req: SipRequest, reply: Send): void {
    const key = serverKey(req);
    const existing = this.#servers.get(key);
    if (req.method === 'ACK') {
      // An ACK joins its INVITE transaction only for a non-2xx final; after a 2xx it belongs to the TU.
      if (existing instanceof InviteServerTransaction && existing.state !== 'accepted') existing.receiveRequest(req);
      else this.#user.onAck?.(req, reply);
      return;
    }
    if (existing) {
      existing.receiveRequest(req);
      return;
    }
    const done = (t: Transaction): void => {
      if (this.#servers.get(key) === t) this.#servers.delete(key);
    };
    const txn =
      req.method === 'INVITE'
        ? new InviteServerTransaction(key, req, reply, this.#timers, done)
        : new NonInviteServerTransaction(key, req, reply, this.#timers, done);
    this.#servers.set(key, txn);
    if (req.method === 'CANCEL') {
      const invite = this.#servers.get(serverKey(req, 'INVITE'));
      if (invite instanceof InviteServerTransaction && invite.state === 'proceeding' && this.#user.onCancel) {
        this.#user.onCancel(txn, invite);
      } else {
        // §9.2: nothing to cancel (unknown, or already answered finally) — 481 for no match, 200 otherwise.
        txn.respond(createResponse(req, invite ? 200 : 481));
      }
      return;
    }
    this.#user.onRequest(txn);
  }

  receiveResponse(res: SipResponse): void {
    const key = clientKeyOfResponse(res);
    const txn = key === null ? undefined : this.#clients.get(key);
    if (txn) txn.receiveResponse(res);
    else this.#user.onStrayResponse?.(res);
  }

  /** Starts a client transaction; the request's top Via must carry a unique magic-cookie branch. */
  sendRequest(req: SipRequest, send: Send, user: ClientTransactionUser): ClientTransaction {
    if (req.method === 'ACK') throw new Error('ACK is not sent in a client transaction (§17.1.1.3)');
    const branch = branchOf(req.topVia());
    if (branch === null) throw new Error('request without a Via branch');
    const key = clientKey(branch, req.method);
    if (this.#clients.has(key)) throw new Error(`client transaction ${key} already exists`);
    const done = (t: Transaction): void => {
      if (this.#clients.get(key) === t) this.#clients.delete(key);
    };
    const txn =
      req.method === 'INVITE'
        ? new InviteClientTransaction(key, req, send, user, this.#timers, done)
        : new NonInviteClientTransaction(key, req, send, user, this.#timers, done);
    this.#clients.set(key, txn);
    txn.start();
    return txn;
  }

  /**
   * Cancels a pending INVITE (§9.1): only once a provisional response has arrived, since before that the
   * CANCEL could overtake the INVITE. Returns the CANCEL's own client transaction, or null if too early/late.
   */
  cancel(invite: InviteClientTransaction, send: Send, user: ClientTransactionUser): ClientTransaction | null {
    if (invite.state !== 'proceeding') return null;
    return this.sendRequest(createCancel(invite.request), send, user);
  }

  /** Ends every transaction and its timers (shutdown). */
  close(): void {
    for (const t of [...this.#clients.values(), ...this.#servers.values()]) t.terminate();
    this.#clients.clear();
    this.#servers.clear();
  }
}
