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

void RtpSequence::onPacket(uint32_t ssrc, uint16_t seq) {
  if (!started_ || ssrc != ssrc_) return restart(ssrc, seq);
  const uint16_t ahead = uint16_t(seq - maxSeq_);
  if (ahead < kMaxDropout) {
    if (seq < maxSeq_) cycles_ += 65536;
    maxSeq_ = seq;
  } else if (ahead <= uint16_t(65536 - kMaxMisorder)) {
    return restart(ssrc, seq);  // far ahead or far behind: the sender started a new sequence
  }
  // else a duplicate or a late packet within kMaxMisorder: received, the highest unchanged
  ++received_;
}

uint64_t RtpSequence::lost() const {
  const uint64_t received = priorReceived_ + received_, expected = this->expected();
  return expected > received ? expected - received : 0;
}

}  // namespace mra
