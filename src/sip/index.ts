// Public face of the SIP plane: framing, messages, structured header values, transactions, proxy helpers.
export { SipStreamFramer, type FramerEvent, type FramerLimits } from './framing.js';
export { SipError, type SipErrorStatus } from './errors.js';
export { parseMessage, DEFAULT_PARSE_LIMITS, type ParseLimits, type ParseOptions } from './parser.js';
export { SipRequest, SipResponse, fields, type SipMessage, type HeaderField, type CSeq } from './message.js';
export { headerKey, displayName as headerDisplayName } from './header-names.js';
export { getParam, setParam, formatParams, type Param } from './grammar.js';
export { parseUri, formatUri, unescapeUri, hostKey, type Uri, type SipUri, type AbsoluteUri } from './uri.js';
export { parseNameAddr, formatNameAddr, parseNameAddrList, nameAddr, tagOf, type NameAddr, type ContactList } from './name-addr.js';
export { parseVia, formatVia, branchOf, sentByKey, MAGIC_COOKIE, type Via } from './via.js';
export {
  createResponse,
  createErrorResponse,
  reasonPhrase,
  generateBranch,
  generateTag,
  addVia,
  removeTopVia,
  addPath,
  addRecordRoute,
  decrementMaxForwards,
  type ResponseOptions,
} from './proxy.js';
export { TransactionLayer, type TransactionUser, type TransactionLayerOptions } from './transaction/transaction-layer.js';
export {
  ClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransactionUser,
} from './transaction/client-transaction.js';
export {
  ServerTransaction,
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransactionEvents,
} from './transaction/server-transaction.js';
export { reliableTimers, type TimerValues } from './transaction/timers.js';
export type { Send, TransactionState } from './transaction/transaction.js';
export { createCancel, createNon2xxAck } from './transaction/requests.js';
export { DigestCredentials, NonceIssuer, digestResponse, parseChallenge, parseDigest, type DigestChallenge, type DigestInput } from './digest.js';
