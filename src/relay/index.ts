// The relay role's plane: rtpengine's ng control protocol over the media engine and the call model (docs/relay.md).
export { attachRelay, type RelayPlane } from './plane.js';
export { RelayCommands } from './commands.js';
export {
  NgDecodeError,
  decode as ngDecode,
  encode as ngEncode,
  type NgDict,
  type NgInput,
  type NgValue,
} from './ng/bencode.js';
export { frame as ngFrame, parseDatagram as ngParseDatagram, NgStreamFramer } from './ng/message.js';
