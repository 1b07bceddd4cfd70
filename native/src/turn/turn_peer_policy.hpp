// Which peers the relay may reach. A TURN server in the DMZ must not become a way into the DMZ or the inside (a
// client asking for a permission to 10.0.0.5 would otherwise reach it from the relay's address), so peers in a
// denied block are refused 403 at CreatePermission and ChannelBind; an allowed block overrides a denied one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mra::turn {

struct Cidr {
  uint32_t network = 0;
  uint32_t mask = 0;
  bool contains(uint32_t ip) const { return (ip & mask) == network; }
};

// "a.b.c.d/n" or "a.b.c.d"; throws std::invalid_argument naming the text.
Cidr parseCidr(const std::string& text);

class PeerPolicy {
 public:
  void allow(Cidr c) { allowed_.push_back(c); }
  void deny(Cidr c) { denied_.push_back(c); }
  bool permitted(uint32_t ip) const {
    for (const Cidr& c : allowed_)
      if (c.contains(ip)) return true;
    for (const Cidr& c : denied_)
      if (c.contains(ip)) return false;
    return true;
  }

 private:
  std::vector<Cidr> allowed_, denied_;
};

}  // namespace mra::turn
