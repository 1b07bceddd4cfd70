// TURN relay ports drawn from the media engine's pool: halves of one pair serve two allocations, reservations
// hold the odd port, and every pair goes back to the pool.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "turn/turn_ports.hpp"
#include "udp_socket.hpp"

using namespace mra;
using namespace mra::turn;

namespace {
SocketOptions loopback() {
  SocketOptions s;
  s.bindIp = 0x7F000001;
  s.receiveBuffer = s.sendBuffer = 65536;
  return s;
}
// A range of its own: above the TypeScript tests' slices (20000-32599), below the ephemeral ports (32768 up).
constexpr uint16_t kFirst = 32700, kLast = 32709;

// A socket of another process's kind: without SO_REUSEADDR, so that our bind on its port fails.
int squat(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa = sockaddrOf(Endpoint{0x7F000001, port});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::close(fd);
  return fd;
}
}  // namespace

TEST_CASE("two allocations share a pair, which returns when both end", "[turn]") {
  auto pool = std::make_shared<PortPool>(kFirst, kLast);
  RelayPorts ports(pool, loopback());
  auto a = ports.open(RelayPorts::Kind::Any, 0);
  auto b = ports.open(RelayPorts::Kind::Any, 0);
  REQUIRE(a);
  REQUIRE(b);
  CHECK((a->port & ~1u) == (b->port & ~1u));
  CHECK(a->port != b->port);
  CHECK(pool->inUse() == 1);
  CHECK(ports.portsInUse() == 2);
  ports.close(a->fd, a->port);
  CHECK(pool->inUse() == 1);
  ports.close(b->fd, b->port);
  CHECK(pool->inUse() == 0);
  CHECK(ports.portsInUse() == 0);
}

TEST_CASE("EVEN-PORT with R: the odd port is held under a token until taken or expired", "[turn]") {
  auto pool = std::make_shared<PortPool>(kFirst, kLast);
  RelayPorts ports(pool, loopback(), 1000);
  auto even = ports.open(RelayPorts::Kind::EvenReserveNext, 0);
  REQUIRE(even);
  CHECK(even->port % 2 == 0);
  CHECK(even->token != 0);
  CHECK(ports.reservations() == 1);
  // An ordinary allocation must not get the reserved port.
  auto other = ports.open(RelayPorts::Kind::Any, 10);
  REQUIRE(other);
  CHECK(other->port != even->port + 1);
  auto odd = ports.openReserved(even->token, 20);
  REQUIRE(odd);
  CHECK(odd->port == even->port + 1);
  CHECK_FALSE(ports.openReserved(even->token, 20));  // a token is good once
  auto again = ports.open(RelayPorts::Kind::EvenReserveNext, 30);
  REQUIRE(again);
  ports.expireReservations(2000);
  CHECK(ports.reservations() == 0);
  CHECK_FALSE(ports.openReserved(again->token, 2000));
  ports.close(even->fd, even->port);
  ports.close(odd->fd, odd->port);
  ports.close(other->fd, other->port);
  ports.close(again->fd, again->port);
  CHECK(pool->inUse() == 0);
  CHECK(ports.portsInUse() == 0);
}

TEST_CASE("exhaustion is nullopt, and a port another socket holds is skipped", "[turn]") {
  auto pool = std::make_shared<PortPool>(kFirst, kLast);  // 5 pairs
  const int squatter = squat(kFirst);  // someone else has the first even port
  REQUIRE(squatter >= 0);
  RelayPorts ports(pool, loopback());
  std::vector<RelayPorts::Opened> open;
  while (auto o = ports.open(RelayPorts::Kind::Any, 0)) {
    CHECK(o->port != kFirst);
    open.push_back(*o);
  }
  CHECK(open.size() == 9);
  for (auto& o : open) ports.close(o.fd, o.port);
  CHECK(pool->inUse() == 0);
  int fd = squatter;
  closeFd(fd);
}
