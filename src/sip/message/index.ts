// The SIP message layer: stream framing, the parser, messages and their structured header values (URI, Via,
// name-addr), and the helpers a proxy edits them with. Everything in SIP stands on it; it stands on nothing of
// ours but the kernel (src/host: its errors are MraErrors). The lab's user agents and call control, the tests and the benches build their SIP elements from it.
export { SipStreamFramer, type FramerEvent, type FramerLimits } from './framing.js';
export { SipError, type SipErrorStatus } from './errors.js';
export { parseMessage, DEFAULT_PARSE_LIMITS, type ParseLimits, type ParseOptions } from './parser.js';
export { SipRequest, SipResponse, fields, type SipMessage, type HeaderField, type CSeq } from './message.js';
export { headerKey, displayName as headerDisplayName } from './header-names.js';
export { getParam, setParam, formatParams, type Param } from './grammar.js';
export { parseUri, formatUri, unescapeUri, hostKey, type Uri, type SipUri, type AbsoluteUri } from './uri.js';
export {
  parseNameAddr,
  formatNameAddr,
  parseNameAddrList,
  nameAddr,
  tagOf,
  type NameAddr,
  type ContactList,
} from './name-addr.js';
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
