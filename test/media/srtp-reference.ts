// SRTP for the AES-CM suites straight from RFC 3711 (and RFC 6188 for AES-256) on node:crypto: an implementation
// that shares no code with libsrtp, for the suites werift lacks (AES-256, the 32-bit tags).
import { createCipheriv, createHmac } from 'node:crypto';

export interface CmSuite {
  keyLength: 16 | 32;
  tagLength: 10 | 4;
}

function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = createCipheriv(key.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

// RFC 3711 section 4.3.1 with key_derivation_rate 0: IV = (label << 48 XOR master salt) << 16, PRF = AES-CM.
function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, 14);
  iv[7]! ^= label;
  return aesCtr(masterKey, iv, Buffer.alloc(length));
}

/** The sending side of one SRTP stream: protects RTP packets (12-byte header) in order, tracking the ROC. */
export class ReferenceSrtp {
  readonly #key: Buffer;
  readonly #salt: Buffer;
  readonly #auth: Buffer;
  #roc = 0;
  #lastSeq = -1;

  constructor(
    private readonly suite: CmSuite,
    keySalt: Buffer,
  ) {
    const masterKey = keySalt.subarray(0, suite.keyLength);
    const masterSalt = keySalt.subarray(suite.keyLength, suite.keyLength + 14);
    this.#key = derive(masterKey, masterSalt, 0x00, suite.keyLength);
    this.#auth = derive(masterKey, masterSalt, 0x01, 20);
    this.#salt = derive(masterKey, masterSalt, 0x02, 14);
  }

  protect(packet: Buffer): Buffer {
    const seq = packet.readUInt16BE(2);
    if (this.#lastSeq >= 0 && seq < this.#lastSeq && this.#lastSeq - seq > 0x8000) this.#roc++;
    this.#lastSeq = seq;
    // IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), index = ROC || SEQ (section 4.1.1).
    const iv = Buffer.alloc(16);
    this.#salt.copy(iv, 0);
    for (let i = 0; i < 4; i++) iv[4 + i]! ^= packet[8 + i]!;
    iv[8]! ^= (this.#roc >>> 24) & 0xff;
    iv[9]! ^= (this.#roc >>> 16) & 0xff;
    iv[10]! ^= (this.#roc >>> 8) & 0xff;
    iv[11]! ^= this.#roc & 0xff;
    iv[12]! ^= packet[2]!;
    iv[13]! ^= packet[3]!;
    const out = Buffer.concat([packet.subarray(0, 12), aesCtr(this.#key, iv, packet.subarray(12))]);
    const roc = Buffer.alloc(4);
    roc.writeUInt32BE(this.#roc >>> 0);
    const tag = createHmac('sha1', this.#auth).update(out).update(roc).digest().subarray(0, this.suite.tagLength);
    return Buffer.concat([out, tag]);
  }
}
