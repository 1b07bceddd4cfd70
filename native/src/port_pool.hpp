// Even/odd RTP/RTCP port pairs from the media range. Used on the control path only (a mutex is fine here).
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace mra {

class PortPool {
 public:
  // [first, last] inclusive; pairs start on even ports so RTCP is RTP+1 (RFC 3550 section 11).
  PortPool(uint16_t first, uint16_t last);

  // Hands out the least recently freed pair so late packets for a closed call do not reach a new one.
  std::optional<uint16_t> takePair();
  void releasePair(uint16_t rtpPort);
  // Takes exactly `rtpPort`'s pair (an adopted call's): false when it is taken already. A pair outside the range is
  // kept apart (the sockets' SO_REUSEPORT would let a second bind pass, so the pool is what refuses it).
  bool takeSpecific(uint16_t rtpPort);

  size_t capacity() const { return pairs_; }
  size_t inUse() const;

 private:
  uint16_t base_;
  size_t pairs_;
  mutable std::mutex mutex_;
  std::vector<uint8_t> used_;
  size_t next_ = 0;
  size_t inUse_ = 0;
  std::set<uint16_t> outside_;
};

}  // namespace mra
