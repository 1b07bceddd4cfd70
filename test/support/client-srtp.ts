// A remote client's SRTP in tests, from werift (not libsrtp, which the engine runs): AES_CM_128_HMAC_SHA1_80 under
// the client's own key for what it sends and the key core gave it for what it receives.
import { ProtectionProfileAes128CmHmacSha1_80, RtpPacket, SrtpSession } from 'werift-rtp';

/** Protects with `send`, unprotects with `recv` (each key||salt, 30 bytes). */
export function clientSrtp(send: Buffer, recv: Buffer): SrtpSession {
  return new SrtpSession({
    profile: ProtectionProfileAes128CmHmacSha1_80,
    keys: {
      localMasterKey: send.subarray(0, 16),
      localMasterSalt: send.subarray(16),
      remoteMasterKey: recv.subarray(0, 16),
      remoteMasterSalt: recv.subarray(16),
    },
  });
}

/** An RTP packet as the client sends it: SRTP under the session's own key. */
export function protect(s: SrtpSession, packet: Buffer): Buffer {
  const p = RtpPacket.deSerialize(packet);
  return s.encrypt(p.payload, p.header);
}
