// The media side of calls on the pair: SDP rewrites and the relays behind them (the edge's relay, core's SRTP B2BUA).
export { CallMedia, type CallMediaOptions, type MediaPolicy } from './call-media.js';
export { EdgeMedia, type EdgeMediaOptions } from './edge-media.js';
export { CoreMedia, type Addresses } from './core-media.js';
export { carriesAnswer, carriesOffer, hasSdp, offerFault } from './sdp-hop.js';
export { DialogKeeper, type DialogKeeperOptions } from './dialogs.js';
