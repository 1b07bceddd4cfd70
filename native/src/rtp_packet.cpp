#include "rtp_packet.hpp"

namespace mra {

namespace {

// RFC 5761 section 4: RTCP packet types 192-223 overlap RTP payload types 64-95 with the marker bit set,
// which no sane RTP session uses, so the second byte alone separates them.
bool looksLikeRtcp(uint8_t secondByte) { return secondByte >= 192 && secondByte <= 223; }

PacketInfo validateRtcp(const uint8_t* p, size_t len) {
  PacketInfo info;
  if (len < 8) return info;
  // The first report's own length must fit; an SRTCP trailer (E|index, tag) may follow the compound.
  const size_t firstLen = (size_t((p[2] << 8) | p[3]) + 1) * 4;
  if (firstLen > len) return info;
  info.kind = PacketKind::Rtcp;
  info.ssrc = readU32(p + 4);
  return info;
}

PacketInfo validateRtp(const uint8_t* p, size_t len) {
  PacketInfo info;
  if (len < 12) return info;
  size_t header = 12 + size_t(p[0] & 0x0f) * 4;
  if (header > len) return info;
  if (p[0] & 0x10) {
    if (header + 4 > len) return info;
    header += 4 + size_t((p[header + 2] << 8) | p[header + 3]) * 4;
    if (header > len) return info;
  }
  // Padding is not checked: under SRTP the padding count is encrypted.
  info.kind = PacketKind::Rtp;
  info.seq = uint16_t((p[2] << 8) | p[3]);
  info.ssrc = readU32(p + 8);
  return info;
}

}  // namespace

PacketInfo classifyPacket(const uint8_t* p, size_t len) {
  if (len < 8 || len > kMaxPacketSize || (p[0] >> 6) != 2) return {};
  return looksLikeRtcp(p[1]) ? validateRtcp(p, len) : validateRtp(p, len);
}

}  // namespace mra
