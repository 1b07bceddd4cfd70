// RTP/RTCP validation and RFC 5761 demultiplexing: the first thing every received packet goes through.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mra {

enum class PacketKind : uint8_t { Rtp, Rtcp, Invalid };

struct PacketInfo {
  PacketKind kind = PacketKind::Invalid;
  uint32_t ssrc = 0;  // RTP: the media source; RTCP: the sender of the first report
  uint16_t seq = 0;   // RTP only
};

// Room kept after any received packet so SRTP can append its tag in place.
constexpr size_t kPacketBufferSize = 2048;
constexpr size_t kMaxPacketSize = 1600;

PacketInfo classifyPacket(const uint8_t* data, size_t len);

inline uint32_t readU32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace mra
