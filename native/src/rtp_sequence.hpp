// Loss on a received RTP stream as RFC 3550 A.1/A.3 counts it: packets expected from the extended highest
// sequence number against packets received. Kept per leg by its worker; the counters publish the totals.
#pragma once
#include <cstdint>

namespace mra {

class RtpSequence {
 public:
  // One validated (and, on an SRTP leg, authenticated) RTP packet from `ssrc`. True when it started a new count
  // (a new SSRC, or a jump).
  bool onPacket(uint32_t ssrc, uint16_t seq);
  // The kernel path continues the current count: it is seeded with where it stands, and hands back packets it
  // received and the highest sequence number it saw (the later of the two wins: user space may still be
  // reading packets queued before the kernel took over).
  bool started() const { return started_; }
  uint32_t ssrc() const { return ssrc_; }
  uint32_t cycles() const { return cycles_; }
  uint16_t maxSeq() const { return maxSeq_; }
  void absorb(uint64_t received, uint32_t cycles, uint16_t maxSeq);
  // Over every source this leg has received, a new SSRC (re-INVITE, a restarted sender) starting afresh.
  uint64_t expected() const { return priorExpected_ + current(); }
  // Never below 0: duplicates can make received exceed expected.
  uint64_t lost() const;

 private:
  // RFC 3550 A.1: a jump beyond these is a restarted sequence, not loss.
  static constexpr uint16_t kMaxDropout = 3000;
  static constexpr uint16_t kMaxMisorder = 100;
  uint64_t current() const { return started_ ? uint64_t(cycles_) + maxSeq_ - baseSeq_ + 1 : 0; }
  void restart(uint32_t ssrc, uint16_t seq);

  bool started_ = false;
  uint32_t ssrc_ = 0;
  uint16_t maxSeq_ = 0, baseSeq_ = 0;
  uint32_t cycles_ = 0;  // wraps of the 16-bit sequence, times 65536
  uint64_t received_ = 0, priorExpected_ = 0, priorReceived_ = 0;
};

}  // namespace mra
