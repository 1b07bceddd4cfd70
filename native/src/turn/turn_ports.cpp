#include "turn/turn_ports.hpp"

#include <openssl/rand.h>

#include <cerrno>

namespace mra::turn {

namespace {
constexpr int kAttempts = 64;
}

RelayPorts::RelayPorts(std::shared_ptr<PortPool> pool, SocketOptions sockets, uint32_t reservationMs)
    : pool_(std::move(pool)), sockets_(sockets), reservationMs_(reservationMs) {}

RelayPorts::~RelayPorts() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [token, r] : reservations_) closeFd(r.fd);
  reservations_.clear();
  // Whatever allocations still hold is theirs to close; the pairs go back with them or with the pool.
  for (auto& [base, pair] : pairs_) pool_->releasePair(base);
  pairs_.clear();
}

int RelayPorts::bindPort(uint16_t port) { return openUdpSocket(sockets_, port); }

std::optional<uint16_t> RelayPorts::takePair() {
  const std::optional<uint16_t> base = pool_->takePair();
  if (base) pairs_[*base] = Pair{};
  return base;
}

std::optional<RelayPorts::Opened> RelayPorts::open(Kind kind, uint64_t nowMs) {
  std::lock_guard<std::mutex> lock(mutex_);
  expireReservationsLocked(nowMs);
  // A free half of a pair we already hold first, so that two allocations share a pair.
  while (kind == Kind::Any && !spare_.empty()) {
    const uint16_t port = spare_.front();
    spare_.pop_front();
    auto it = pairs_.find(uint16_t(port & ~1u));
    const uint8_t bit = uint8_t(1u << half(port));
    if (it == pairs_.end() || (it->second.used & bit) || (it->second.blocked & bit)) continue;  // stale entry
    const int fd = bindPort(port);
    if (fd >= 0) {
      it->second.used |= bit;
      ++inUse_;
      return Opened{fd, port, 0};
    }
    it->second.blocked |= bit;
    if (it->second.used == 0) {
      pool_->releasePair(it->first);
      pairs_.erase(it);
    }
  }
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::optional<uint16_t> base = takePair();
    if (!base) return std::nullopt;
    Pair& pair = pairs_[*base];
    const int evenFd = bindPort(*base);
    if (evenFd < 0 && errno == EADDRINUSE) pair.blocked |= 1;
    if (kind == Kind::EvenReserveNext && evenFd >= 0) {
      const int oddFd = bindPort(uint16_t(*base + 1));
      if (oddFd >= 0) {
        uint64_t token = 0;
        while (token == 0 || reservations_.count(token)) RAND_bytes(reinterpret_cast<unsigned char*>(&token), sizeof token);
        pair.used = 3;
        inUse_ += 2;
        reservations_[token] = Reservation{oddFd, uint16_t(*base + 1), nowMs + reservationMs_};
        return Opened{evenFd, *base, token};
      }
    } else if (evenFd >= 0) {
      pair.used |= 1;
      ++inUse_;
      spare_.push_back(uint16_t(*base + 1));
      return Opened{evenFd, *base, 0};
    } else if (kind == Kind::Any) {
      const int oddFd = bindPort(uint16_t(*base + 1));
      if (oddFd >= 0) {
        pair.used |= 2;
        ++inUse_;
        return Opened{oddFd, uint16_t(*base + 1), 0};
      }
    }
    int fd = evenFd;
    closeFd(fd);
    pairs_.erase(*base);
    pool_->releasePair(*base);
  }
  return std::nullopt;
}

std::optional<RelayPorts::Opened> RelayPorts::openReserved(uint64_t token, uint64_t nowMs) {
  std::lock_guard<std::mutex> lock(mutex_);
  expireReservationsLocked(nowMs);
  auto it = reservations_.find(token);
  if (it == reservations_.end()) return std::nullopt;
  const Opened out{it->second.fd, it->second.port, 0};
  reservations_.erase(it);
  return out;
}

void RelayPorts::close(int& fd, uint16_t port) {
  closeFd(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  freeHalf(port);
}

void RelayPorts::freeHalf(uint16_t port) {
  auto it = pairs_.find(uint16_t(port & ~1u));
  const uint8_t bit = uint8_t(1u << half(port));
  if (it == pairs_.end() || !(it->second.used & bit)) return;
  it->second.used &= uint8_t(~bit);
  --inUse_;
  if (it->second.used == 0) {
    pool_->releasePair(it->first);
    pairs_.erase(it);
  } else {
    spare_.push_back(port);
  }
}

void RelayPorts::expireReservations(uint64_t nowMs) {
  std::lock_guard<std::mutex> lock(mutex_);
  expireReservationsLocked(nowMs);
}

void RelayPorts::expireReservationsLocked(uint64_t nowMs) {
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    if (it->second.expiresMs > nowMs) {
      ++it;
      continue;
    }
    closeFd(it->second.fd);
    freeHalf(it->second.port);
    it = reservations_.erase(it);
  }
}

size_t RelayPorts::portsInUse() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return inUse_;
}

size_t RelayPorts::reservations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reservations_.size();
}

}  // namespace mra::turn
