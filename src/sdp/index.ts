// SDP for calls: a parser that keeps what it does not rewrite byte for byte, and SDES a=crypto.
export { Sdp, MediaDescription, SdpError, SdpSyntaxError, MAX_MEDIA } from './sdp.js';
export { parseCrypto, formatCrypto, type SdpCrypto } from './crypto.js';
