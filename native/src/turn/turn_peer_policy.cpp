#include "turn/turn_peer_policy.hpp"

#include <stdexcept>

#include "udp_socket.hpp"

namespace mra::turn {

Cidr parseCidr(const std::string& text) {
  const size_t slash = text.find('/');
  const uint32_t ip = parseIpv4(text.substr(0, slash));
  int bits = 32;
  if (slash != std::string::npos) {
    const std::string n = text.substr(slash + 1);
    if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos || std::stoi(n) > 32)
      throw std::invalid_argument("not an IPv4 address block: '" + text + "'");
    bits = std::stoi(n);
  }
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t(0) << (32 - bits);
  return Cidr{ip & mask, mask};
}

}  // namespace mra::turn
