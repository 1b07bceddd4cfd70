// Multiplexed traversal media: many calls share one port pair; the core sends each leg from its own source
// port, so the sender's address finds the leg, with the SSRC as a fallback. Owned by one worker: no lock.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "latch.hpp"

namespace mra {

struct Leg;

class MuxDemux {
 public:
  // Returns false when another leg already owns that source.
  bool addSource(Endpoint src, Leg* leg);
  void addSsrc(uint32_t ssrc, Leg* leg);
  void removeLeg(Leg* leg);
  // nullptr: nobody's packet (counted and dropped by the caller).
  Leg* find(Endpoint src, bool haveSsrc, uint32_t ssrc) const;
  size_t size() const { return bySource_.size(); }

 private:
  static uint64_t key(Endpoint e) { return (uint64_t(e.ip) << 16) | e.port; }
  std::unordered_map<uint64_t, Leg*> bySource_;
  std::unordered_map<uint32_t, Leg*> bySsrc_;
};

}  // namespace mra
