// One TURN allocation (RFC 8656 §2.2): the client's 5-tuple, its relayed transport address (a UDP socket on a
// port of the media range), its permissions and channels. Owned and touched by exactly one worker thread.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "latch.hpp"
#include "turn/stun_message.hpp"

namespace mra::turn {

class TcpConnection;

// What an epoll event points at: the worker tells its sockets apart by this tag, never by a lookup.
struct Watch {
  enum class Kind : uint8_t { Control, UdpListener, TcpListener, TcpConnection, Relay } kind;
  void* owner;
};

struct Permission {
  uint32_t ip;
  uint64_t expiresMs;
};

struct Channel {
  uint16_t number;
  Endpoint peer;
  uint64_t expiresMs;
};

struct Allocation {
  Watch watch{Watch::Kind::Relay, this};
  int relayFd = -1;
  uint16_t relayPort = 0;
  Endpoint client;                  // the client's address as the server sees it (UDP or TCP)
  TcpConnection* tcp = nullptr;     // null for UDP
  std::string username;             // every later request must carry the same (441 otherwise)
  std::string user;                 // what the quota counted
  TransactionId allocateTid{};      // a retransmitted Allocate gets its success again, not 437
  uint64_t expiresMs = 0;
  std::vector<Permission> permissions;
  std::vector<Channel> channels;
  bool ended = false;  // retired this turn: its socket closes at the turn's end, nothing more is read from it

  bool permitted(uint32_t ip, uint64_t nowMs) const {
    for (const Permission& p : permissions)
      if (p.ip == ip) return p.expiresMs > nowMs;
    return false;
  }
  const Channel* channelByNumber(uint16_t n) const {
    for (const Channel& c : channels)
      if (c.number == n) return &c;
    return nullptr;
  }
  const Channel* channelByPeer(Endpoint peer) const {
    for (const Channel& c : channels)
      if (c.peer == peer) return &c;
    return nullptr;
  }
};

}  // namespace mra::turn
