#include <catch2/catch.hpp>

#include <vector>

#include "rtp_packet.hpp"

using namespace mra;

namespace {
std::vector<uint8_t> rtpPacket(size_t len, uint8_t first = 0x80, uint8_t second = 0) {
  std::vector<uint8_t> p(len, 0);
  if (len < 12) return p;  // too short to carry a header: left zero
  p[0] = first, p[1] = second, p[2] = 0x12, p[3] = 0x34;
  p[8] = 0xde, p[9] = 0xad, p[10] = 0xbe, p[11] = 0xef;
  return p;
}
}  // namespace

TEST_CASE("RTP packets are validated and their SSRC read", "[rtp]") {
  auto p = rtpPacket(172);
  PacketInfo i = classifyPacket(p.data(), p.size());
  CHECK(i.kind == PacketKind::Rtp);
  CHECK(i.ssrc == 0xdeadbeef);
  CHECK(i.seq == 0x1234);
}

TEST_CASE("malformed RTP is invalid", "[rtp]") {
  auto p = rtpPacket(172, 0x40);  // version 1
  CHECK(classifyPacket(p.data(), p.size()).kind == PacketKind::Invalid);
  p = rtpPacket(11);
  CHECK(classifyPacket(p.data(), p.size()).kind == PacketKind::Invalid);
  p = rtpPacket(20, 0x8f);  // 15 CSRCs cannot fit in 20 bytes
  CHECK(classifyPacket(p.data(), p.size()).kind == PacketKind::Invalid);
  p = rtpPacket(20, 0x90);  // extension header claims 255 words
  p[14] = 0, p[15] = 0xff;
  CHECK(classifyPacket(p.data(), p.size()).kind == PacketKind::Invalid);
  p = rtpPacket(kMaxPacketSize + 1);
  CHECK(classifyPacket(p.data(), p.size()).kind == PacketKind::Invalid);
}

TEST_CASE("RFC 5761 demux: RTCP types 192-223 are RTCP, RTP payload types are RTP", "[rtp][rtcp]") {
  std::vector<uint8_t> rr(8, 0);
  rr[0] = 0x80, rr[1] = 201, rr[2] = 0, rr[3] = 1;
  rr[4] = 1, rr[5] = 2, rr[6] = 3, rr[7] = 4;
  PacketInfo i = classifyPacket(rr.data(), rr.size());
  CHECK(i.kind == PacketKind::Rtcp);
  CHECK(i.ssrc == 0x01020304);
  rr[3] = 9;  // length beyond the datagram
  CHECK(classifyPacket(rr.data(), rr.size()).kind == PacketKind::Invalid);
  auto dynamicPt = rtpPacket(100, 0x80, 96 | 0x80);  // PT 96 with marker: 224, still RTP
  CHECK(classifyPacket(dynamicPt.data(), dynamicPt.size()).kind == PacketKind::Rtp);
}
