#include "rtp_sequence.hpp"

namespace mra {

void RtpSequence::restart(uint32_t ssrc, uint16_t seq) {
  priorExpected_ += current();
  priorReceived_ += received_;
  started_ = true;
  ssrc_ = ssrc;
  baseSeq_ = maxSeq_ = seq;
  cycles_ = 0;
  received_ = 1;
}

bool RtpSequence::onPacket(uint32_t ssrc, uint16_t seq) {
  if (!started_ || ssrc != ssrc_) {
    restart(ssrc, seq);
    return true;
  }
  const uint16_t ahead = uint16_t(seq - maxSeq_);
  if (ahead < kMaxDropout) {
    if (seq < maxSeq_) cycles_ += 65536;
    maxSeq_ = seq;
  } else if (ahead <= uint16_t(65536 - kMaxMisorder)) {
    restart(ssrc, seq);  // far ahead or far behind: the sender started a new sequence
    return true;
  }
  // else a duplicate or a late packet within kMaxMisorder: received, the highest unchanged
  ++received_;
  return false;
}

void RtpSequence::absorb(uint64_t received, uint32_t cycles, uint16_t maxSeq) {
  if (!started_) return;
  received_ += received;
  if (uint64_t(cycles) + maxSeq > uint64_t(cycles_) + maxSeq_) {
    cycles_ = cycles;
    maxSeq_ = maxSeq;
  }
}

uint64_t RtpSequence::lost() const {
  const uint64_t received = priorReceived_ + received_, expected = this->expected();
  return expected > received ? expected - received : 0;
}

}  // namespace mra
