#include "port_pool.hpp"

#include <stdexcept>

namespace mra {

PortPool::PortPool(uint16_t first, uint16_t last) {
  const uint32_t lo = (first + 1u) & ~1u;
  if (last < lo + 1u) throw std::invalid_argument("port range holds no RTP/RTCP pair");
  base_ = uint16_t(lo);
  pairs_ = (uint32_t(last) - lo + 1) / 2;
  used_.assign(pairs_, 0);
}

std::optional<uint16_t> PortPool::takePair() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (inUse_ == pairs_) return std::nullopt;
  for (size_t i = 0; i < pairs_; ++i) {
    const size_t slot = (next_ + i) % pairs_;
    if (used_[slot]) continue;
    used_[slot] = 1;
    ++inUse_;
    next_ = (slot + 1) % pairs_;
    return uint16_t(base_ + slot * 2);
  }
  return std::nullopt;
}

void PortPool::releasePair(uint16_t rtpPort) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t slot = (rtpPort - base_) / 2;
  if (rtpPort < base_ || (rtpPort - base_) % 2 != 0 || slot >= pairs_) {
    outside_.erase(rtpPort);
    return;
  }
  if (!used_[slot]) return;
  used_[slot] = 0;
  --inUse_;
}

bool PortPool::takeSpecific(uint16_t rtpPort) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t slot = (rtpPort - base_) / 2;
  if (rtpPort < base_ || (rtpPort - base_) % 2 != 0 || slot >= pairs_) return outside_.insert(rtpPort).second;
  if (used_[slot]) return false;
  used_[slot] = 1;
  ++inUse_;
  return true;
}

size_t PortPool::inUse() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inUse_;
}

}  // namespace mra
