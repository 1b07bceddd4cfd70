#include "mux_demux.hpp"

namespace mra {

bool MuxDemux::addSource(Endpoint src, Leg* leg) { return bySource_.emplace(key(src), leg).second; }

void MuxDemux::addSsrc(uint32_t ssrc, Leg* leg) { bySsrc_[ssrc] = leg; }

void MuxDemux::removeLeg(Leg* leg) {
  for (auto it = bySource_.begin(); it != bySource_.end();) it = it->second == leg ? bySource_.erase(it) : std::next(it);
  for (auto it = bySsrc_.begin(); it != bySsrc_.end();) it = it->second == leg ? bySsrc_.erase(it) : std::next(it);
}

Leg* MuxDemux::find(Endpoint src, bool haveSsrc, uint32_t ssrc) const {
  if (auto it = bySource_.find(key(src)); it != bySource_.end()) return it->second;
  if (!haveSsrc) return nullptr;
  auto it = bySsrc_.find(ssrc);
  return it == bySsrc_.end() ? nullptr : it->second;
}

}  // namespace mra
