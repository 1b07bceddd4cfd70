// RFC 3261 §17 transactions over the SIP message layer. No node needs them (both proxies are stateless, and the
// B2BUA keeps no transaction of its own), so they live with the tests that keep them working (test/sip/), for
// the day a stateful element does.
export { TransactionLayer, type TransactionUser, type TransactionLayerOptions } from './transaction-layer.js';
export {
  ClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransactionUser,
} from './client-transaction.js';
export {
  ServerTransaction,
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransactionEvents,
} from './server-transaction.js';
export { reliableTimers, type TimerValues } from './timers.js';
export type { Send, TransactionState } from './transaction.js';
export { createCancel, createNon2xxAck } from './requests.js';
