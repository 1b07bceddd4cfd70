// The call model (Call → Leg → MediaStream → Relay) and SDP's translation into it: the one state behind the B2BUA's
// media, capacity, drain and status. Plain data out (toData), neutral streams in (describe), SDP text only at its edge.
export { CallRegistry, type Call, type CallRegistryOptions, type LegEnd } from './registry.js';
export {
  Leg,
  legKey,
  type DialogData,
  type DialogParty,
  type LegData,
  type LegDirection,
  type LegInit,
  type LegState,
} from './leg.js';
export {
  MediaStream,
  type MediaStreamData,
  type RelayLegData,
  type StreamEvents,
  type StreamKey,
} from './media-stream.js';
export {
  held,
  heldByAddress,
  isWildcard,
  moved,
  plainProto,
  relayable,
  secureProto,
  streamEndpoints,
  type Direction,
  type IceDescription,
  type SessionDescription,
  type StreamDescription,
  type Transport,
} from './description.js';
export { apply, describe, rewriteBody } from './sdp-translate.js';
export {
  CALLS_NS,
  CALL_LEASES_NS,
  StoredCalls,
  type StoredCall,
  type StoredCallsOptions,
} from './stored-calls.js';
