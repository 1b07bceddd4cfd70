#include <catch2/catch.hpp>

#include "rtp_sequence.hpp"

using mra::RtpSequence;

TEST_CASE("rtp sequence: no loss in order", "[rtp-sequence]") {
  RtpSequence s;
  for (uint16_t q = 10; q < 20; ++q) s.onPacket(1, q);
  CHECK(s.expected() == 10);
  CHECK(s.lost() == 0);
}

TEST_CASE("rtp sequence: gaps and late packets across the 16-bit wrap", "[rtp-sequence]") {
  RtpSequence s;
  for (uint16_t q : {65534, 65535, 1, 2, 0, 4}) s.onPacket(7, q);
  CHECK(s.expected() == 7);  // 65534 .. 4
  CHECK(s.lost() == 1);      // 3; 0 came late
  s.onPacket(7, 4);          // RFC 3550 A.3: a duplicate counts as received, offsetting a loss
  CHECK(s.lost() == 0);
}

TEST_CASE("rtp sequence: a restarted sender and a new SSRC start afresh, earlier loss kept", "[rtp-sequence]") {
  RtpSequence s;
  for (uint16_t q : {100, 102}) s.onPacket(7, q);  // 101 lost
  s.onPacket(7, 40000);                              // a jump beyond the dropout limit: a new sequence
  s.onPacket(7, 40001);
  CHECK(s.expected() == 5);
  CHECK(s.lost() == 1);
  s.onPacket(8, 5);  // another source
  s.onPacket(8, 7);
  CHECK(s.expected() == 8);
  CHECK(s.lost() == 2);
}

TEST_CASE("rtp sequence: duplicates never make loss negative", "[rtp-sequence]") {
  RtpSequence s;
  for (int i = 0; i < 5; ++i) s.onPacket(1, 9);
  CHECK(s.expected() == 1);
  CHECK(s.lost() == 0);
}

TEST_CASE("rtp sequence: the kernel path continues a count and hands it back", "[rtp-sequence][kernel]") {
  RtpSequence s;
  CHECK(s.onPacket(3, 65530));  // the first packet starts a count
  for (uint16_t q = 65531; q != 65535; ++q) CHECK_FALSE(s.onPacket(3, q));
  // Seeded with (cycles 0, max 65534), the kernel received 10 more across the wrap, one lost: up to 9.
  s.absorb(10, 65536, 9);
  CHECK(s.expected() == 16);  // 65530 .. 9
  CHECK(s.lost() == 1);
  // User space still reads a packet queued before the kernel took over (65535, lost so far); a fold with an
  // older highest does not move it back.
  CHECK_FALSE(s.onPacket(3, 65535));
  s.absorb(0, 0, 65535);
  CHECK(s.expected() == 16);
  CHECK(s.lost() == 0);
  CHECK(s.onPacket(4, 1));  // another SSRC: a new count, the kernel's kept in the totals
  CHECK(s.expected() == 17);
}
