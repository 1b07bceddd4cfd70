// Non-blocking UDP sockets for the media path, and IPv4 endpoint conversions.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "latch.hpp"

namespace mra {

struct SocketOptions {
  uint32_t bindIp = 0;  // host order; 0 = any
  int receiveBuffer = 4 << 20;
  int sendBuffer = 4 << 20;
};

// Returns the fd, or -1 with errno set (EADDRINUSE lets the caller try another port).
int openUdpSocket(const SocketOptions& opts, uint16_t port);

// Opens RTP on `port` and RTCP on `port + 1`; both or neither. Returns false with errno set.
bool openUdpPair(const SocketOptions& opts, uint16_t port, int& rtpFd, int& rtcpFd);

void closeFd(int& fd);

inline Endpoint endpointOf(const sockaddr_in& sa) { return Endpoint{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)}; }
inline sockaddr_in sockaddrOf(Endpoint e) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(e.ip);
  sa.sin_port = htons(e.port);
  return sa;
}

// Dotted IPv4 only; throws std::invalid_argument otherwise.
uint32_t parseIpv4(const std::string& text);
std::string formatIpv4(uint32_t ip);

}  // namespace mra
