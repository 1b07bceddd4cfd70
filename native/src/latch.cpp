#include "latch.hpp"

namespace mra {

void Latch::setHint(Endpoint hint) {
  current_ = hint;
  latched_ = false;
  candidateCount_ = 0;
}

Latch::Verdict Latch::offer(Endpoint src, uint64_t nowMs) {
  if (!cfg_.enabled) return src == current_ ? Verdict::Accept : Verdict::Foreign;
  if (!latched_) {
    latched_ = true;
    current_ = src;
    lastFromCurrentMs_ = nowMs;
    candidateCount_ = 0;
    return Verdict::Latched;
  }
  if (src == current_) {
    lastFromCurrentMs_ = nowMs;
    candidateCount_ = 0;
    return Verdict::Accept;
  }
  if (src == candidate_) {
    ++candidateCount_;
  } else {
    candidate_ = src;
    candidateCount_ = 1;
  }
  if (candidateCount_ >= cfg_.relatchPackets && nowMs - lastFromCurrentMs_ >= cfg_.relatchSilenceMs) {
    current_ = src;
    lastFromCurrentMs_ = nowMs;
    candidateCount_ = 0;
    return Verdict::Relatched;
  }
  return Verdict::Foreign;
}

}  // namespace mra
