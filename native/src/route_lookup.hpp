// Where the kernel would send a datagram to an IPv4 address: the route's device and preferred source, asked of
// the kernel over rtnetlink (RTM_GETROUTE, as `ip route get`). The kernel path needs both to rewrite a packet
// as the peer leg's socket would have sent it. One per worker thread: the socket is not shared.
#pragma once
#include <cstdint>
#include <optional>

namespace mra {

struct Route {
  int ifindex = 0;
  uint32_t source = 0;  // preferred source, host order
};

class RouteLookup {
 public:
  RouteLookup();
  ~RouteLookup();
  RouteLookup(const RouteLookup&) = delete;
  RouteLookup& operator=(const RouteLookup&) = delete;

  // Unreachable, a blackhole or prohibit route, or no answer: nullopt. `from` (host order, 0: any) is the
  // source the socket is bound to, which can select a policy route.
  std::optional<Route> lookup(uint32_t to, uint32_t from);

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

}  // namespace mra
