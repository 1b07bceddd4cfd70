#include "udp_socket.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace mra {

int openUdpSocket(const SocketOptions& opts, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Buffers sized for bursts; the kernel caps them at rmem_max/wmem_max without failing.
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opts.receiveBuffer, sizeof opts.receiveBuffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opts.sendBuffer, sizeof opts.sendBuffer);
  sockaddr_in sa = sockaddrOf(Endpoint{opts.bindIp, port});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

bool openUdpPair(const SocketOptions& opts, uint16_t port, int& rtpFd, int& rtcpFd) {
  rtpFd = openUdpSocket(opts, port);
  if (rtpFd < 0) return false;
  rtcpFd = openUdpSocket(opts, uint16_t(port + 1));
  if (rtcpFd < 0) {
    const int saved = errno;
    closeFd(rtpFd);
    errno = saved;
    return false;
  }
  return true;
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

uint32_t parseIpv4(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) throw std::invalid_argument("not an IPv4 address: '" + text + "'");
  return ntohl(a.s_addr);
}

std::string formatIpv4(uint32_t ip) {
  in_addr a{};
  a.s_addr = htonl(ip);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace mra
