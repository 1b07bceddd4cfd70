#include "turn/turn_config.hpp"

namespace mra::turn {

namespace {
SocketOptions relaySockets(const TurnConfig& c) {
  SocketOptions s;
  s.bindIp = c.relayIp;
  s.receiveBuffer = c.relayBuffer;
  s.sendBuffer = c.relayBuffer;
  return s;
}
}  // namespace

AllocationQuota::Verdict AllocationQuota::take(const std::string& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (inUse_ >= total_) return Verdict::ServerLimit;
  uint32_t& mine = byUser_[user];
  if (perUser_ > 0 && mine >= perUser_) {
    if (mine == 0) byUser_.erase(user);
    return Verdict::UserLimit;
  }
  ++mine;
  ++inUse_;
  return Verdict::Granted;
}

void AllocationQuota::give(const std::string& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = byUser_.find(user);
  if (it == byUser_.end() || it->second == 0) return;
  if (--it->second == 0) byUser_.erase(it);
  --inUse_;
}

size_t AllocationQuota::inUse() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inUse_;
}

TurnShared::TurnShared(TurnConfig c, std::shared_ptr<PortPool> pool)
    : cfg(std::move(c)),
      auth(cfg.realm, cfg.secrets, cfg.nonceLifetimeS),
      ports(std::move(pool), relaySockets(cfg), cfg.reservationLifetimeS * 1000),
      quota(cfg.maxAllocations, cfg.maxAllocationsPerUser) {}

}  // namespace mra::turn
