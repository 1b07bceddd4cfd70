// Symmetric RTP (latching): a leg behind NAT learns where to send from what it receives. The first validated
// packet latches; moving to a new source needs a sustained stream from it while the current one is silent, so
// a single spoofed packet (or a spoofer racing a live peer) never steals the leg.
#pragma once
#include <cstdint>

namespace mra {

struct Endpoint {
  uint32_t ip = 0;  // IPv4, host byte order
  uint16_t port = 0;
  bool valid() const { return port != 0; }
  bool operator==(const Endpoint& o) const { return ip == o.ip && port == o.port; }
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
};

struct LatchConfig {
  bool enabled = true;
  uint32_t relatchPackets = 5;     // consecutive validated packets from the newcomer
  uint32_t relatchSilenceMs = 1000;  // how long the current source must have been quiet
};

class Latch {
 public:
  enum class Verdict { Accept, Latched, Relatched, Foreign };

  explicit Latch(LatchConfig cfg = {}) : cfg_(cfg) {}

  // The address signalled in SDP: where to send until something latches (or for good when latching is off).
  void setHint(Endpoint hint);
  // Only call with packets that already passed validation (RTP shape, SSRC, SRTP auth).
  Verdict offer(Endpoint src, uint64_t nowMs);

  bool latched() const { return latched_; }
  // The destination is where the remote really sends from: latched, or fixed (latching off, a mux leg).
  bool settled() const { return latched_ || !cfg_.enabled; }
  // The current source was heard at `ms` on another path (the kernel forwarded its packets).
  void heard(uint64_t ms) {
    if (latched_ && ms > lastFromCurrentMs_) lastFromCurrentMs_ = ms;
  }
  bool isCurrent(Endpoint src) const { return current_.valid() && src == current_; }
  Endpoint destination() const { return current_; }

 private:
  LatchConfig cfg_;
  bool latched_ = false;
  Endpoint current_;
  Endpoint candidate_;
  uint32_t candidateCount_ = 0;
  uint64_t lastFromCurrentMs_ = 0;
};

}  // namespace mra
