// A client's TCP connection to the TURN server (RFC 8656 §3.1): STUN messages and ChannelData framed by their own
// length fields (ChannelData padded to four bytes, §12.5), and what is waiting to be written when the socket is full.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "latch.hpp"
#include "turn/turn_allocation.hpp"

namespace mra::turn {

class TcpConnection {
 public:
  // More than this waiting for a slow reader: relayed data is dropped (it is media; late is as bad as lost).
  static constexpr size_t kMaxPending = 512 * 1024;

  TcpConnection(int fd, Endpoint remote, uint64_t nowMs) : fd(fd), remote(remote), lastActivityMs(nowMs) {}

  Watch watch{Watch::Kind::TcpConnection, this};
  int fd;
  Endpoint remote;
  uint64_t lastActivityMs;
  Allocation* allocation = nullptr;  // at most one per connection: it is the 5-tuple
  bool closing = false;
  bool writeArmed = false;  // EPOLLOUT registered while `out` holds bytes the socket would not take

  // Bytes received and not yet a whole frame.
  std::vector<uint8_t> in = std::vector<uint8_t>(2 * kMaxStunMessage);
  size_t inLength = 0;
  std::vector<uint8_t> out;

  // The length of the whole frame at the start of `in`: 0 while incomplete, SIZE_MAX when the stream is not TURN.
  size_t frameLength() const {
    if (inLength < 4) return 0;
    const uint8_t* p = in.data();
    size_t total;
    switch (framingOf(p[0])) {
      case Framing::Stun: total = kStunHeader + ((size_t(p[2]) << 8) | p[3]); break;
      case Framing::ChannelData: total = 4 + ((((size_t(p[2]) << 8) | p[3]) + 3) & ~size_t(3)); break;
      default: return SIZE_MAX;
    }
    if (total > kMaxStunMessage) return SIZE_MAX;
    return inLength >= total ? total : 0;
  }

  void consume(size_t n) {
    std::memmove(in.data(), in.data() + n, inLength - n);
    inLength -= n;
  }

  // Queues bytes; false when too much is already waiting.
  bool queue(const uint8_t* data, size_t length) {
    if (out.size() + length > kMaxPending) return false;
    out.insert(out.end(), data, data + length);
    return true;
  }
};

}  // namespace mra::turn
