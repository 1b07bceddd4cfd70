// Relay ports for TURN allocations, from the media engine's port pool. The pool hands out even/odd pairs (RTP and
// RTCP); an allocation needs one port, so both halves of a pair serve allocations and the pair goes back to the
// pool only when both are free: nothing leaks, and the engine's dump() counts what TURN holds. EVEN-PORT with the
// R bit (RFC 8656 §7.2) takes a fresh pair and keeps its odd port, bound, under a RESERVATION-TOKEN.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "port_pool.hpp"
#include "udp_socket.hpp"

namespace mra::turn {

class RelayPorts {
 public:
  enum class Kind { Any, Even, EvenReserveNext };
  struct Opened {
    int fd = -1;
    uint16_t port = 0;
    uint64_t token = 0;  // EvenReserveNext: the token that takes the reserved odd port
  };

  RelayPorts(std::shared_ptr<PortPool> pool, SocketOptions sockets, uint32_t reservationMs = 30000);
  ~RelayPorts();

  // A bound, non-blocking UDP socket on a port of the kind asked for; nullopt when the range has none left.
  std::optional<Opened> open(Kind kind, uint64_t nowMs);
  // The odd port a reservation holds; nullopt for an unknown or expired token.
  std::optional<Opened> openReserved(uint64_t token, uint64_t nowMs);
  // Closes the socket and frees its port.
  void close(int& fd, uint16_t port);
  void expireReservations(uint64_t nowMs);

  size_t portsInUse() const;
  size_t reservations() const;

 private:
  // Per pair held from the pool: which halves are bound by us, reserved, or found taken by another process.
  struct Pair {
    uint8_t used = 0;     // bit 0: even, bit 1: odd
    uint8_t blocked = 0;  // EADDRINUSE: another process has it; counts as free for giving the pair back
  };
  struct Reservation {
    int fd;
    uint16_t port;
    uint64_t expiresMs;
  };

  static int half(uint16_t port) { return port & 1; }
  int bindPort(uint16_t port);
  std::optional<uint16_t> takePair();
  void freeHalf(uint16_t port);
  void expireReservationsLocked(uint64_t nowMs);

  mutable std::mutex mutex_;
  std::shared_ptr<PortPool> pool_;
  SocketOptions sockets_;
  uint32_t reservationMs_;
  std::unordered_map<uint16_t, Pair> pairs_;  // by even port
  std::deque<uint16_t> spare_;                // free halves of held pairs, oldest first; stale entries skipped
  std::unordered_map<uint64_t, Reservation> reservations_;
  size_t inUse_ = 0;
};

}  // namespace mra::turn
