#include "route_lookup.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace mra {

namespace {

void addAttribute(nlmsghdr* msg, unsigned short type, const void* data, size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(msg) + NLMSG_ALIGN(msg->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  msg->nlmsg_len = NLMSG_ALIGN(msg->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

}  // namespace

RouteLookup::RouteLookup() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return;
  // The answer comes at once; a kernel that never answers must not stall a worker.
  timeval tv{0, 200000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

RouteLookup::~RouteLookup() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<Route> RouteLookup::lookup(uint32_t to, uint32_t from) {
  if (fd_ < 0) return std::nullopt;
  alignas(nlmsghdr) char request[NLMSG_SPACE(sizeof(rtmsg)) + 2 * RTA_SPACE(4)] = {};
  auto* msg = reinterpret_cast<nlmsghdr*>(request);
  msg->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  msg->nlmsg_type = RTM_GETROUTE;
  msg->nlmsg_flags = NLM_F_REQUEST;
  msg->nlmsg_seq = ++seq_;
  auto* rt = static_cast<rtmsg*>(NLMSG_DATA(msg));
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = 32;
  const uint32_t dst = htonl(to);
  addAttribute(msg, RTA_DST, &dst, 4);
  if (from != 0) {
    rt->rtm_src_len = 32;
    const uint32_t src = htonl(from);
    addAttribute(msg, RTA_SRC, &src, 4);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, request, msg->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) return std::nullopt;

  alignas(nlmsghdr) char answer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, answer, sizeof answer, 0);
    if (n <= 0) return std::nullopt;
    int len = int(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq_) continue;  // a late answer to an earlier, timed-out request
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
      const auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
      if (r->rtm_type != RTN_UNICAST && r->rtm_type != RTN_LOCAL) return std::nullopt;
      Route route;
      int attrLen = int(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(r); RTA_OK(a, attrLen); a = RTA_NEXT(a, attrLen)) {
        if (a->rta_type == RTA_OIF) std::memcpy(&route.ifindex, RTA_DATA(a), 4);
        if (a->rta_type == RTA_PREFSRC) {
          uint32_t src;
          std::memcpy(&src, RTA_DATA(a), 4);
          route.source = ntohl(src);
        }
      }
      if (route.ifindex <= 0) return std::nullopt;
      return route;
    }
  }
}

}  // namespace mra
