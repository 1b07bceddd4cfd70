// A client connection of the native SIP TLS listener, owned by one network thread (tls_thread.cpp runs the loop;
// tls_connection.cpp its TLS and framing work).
#pragma once
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <string>

#include "sip_tls/sip_framer.hpp"


namespace mra {

// epoll tags: the listening socket, the thread's eventfd, and connections by id (kConnTag + id).
constexpr uint64_t kListenTag = 0, kWakeTag = 1, kConnTag = uint64_t(1) << 32;
// A client that does not read its replies is cut off rather than buffered without bound.
constexpr size_t kMaxOutput = 1 << 20;

// An idle announced connection is this, an SSL object with released buffers, and a hash node: kept small on
// purpose (the target is under 10 KB per registered client, most of it OpenSSL's).
struct SipTlsConnection {
  SipTlsConnection(uint32_t id_, int fd_, SSL* ssl_, const SipFramerLimits& limits, uint64_t now)
      : id(id_), fd(fd_), ssl(ssl_), since(now), lastRx(now), framer(limits) {}
  ~SipTlsConnection();
  SipTlsConnection(const SipTlsConnection&) = delete;
  SipTlsConnection& operator=(const SipTlsConnection&) = delete;
  const uint32_t id;
  int fd;
  SSL* ssl;
  bool open = false, watchingOut = false, dirty = false;
  // The last read from the socket got less than it asked for: the socket is empty (noteDrained).
  bool drained = false;
  uint64_t since, lastRx, partialSince = 0;
  std::string remote, out;
  SipFramer framer;
};

// A BIO callback on each connection's socket BIO (its arg is the SipTlsConnection): sets `drained` after every
// read, so the read loop stops without the extra read() that would only say EAGAIN.
long noteDrained(BIO* b, int oper, const char* argp, size_t len, int argi, long argl, int ret, size_t* processed);

// The reason for a failed SSL call: OpenSSL's error queue first, then errno, then closedText.
std::string sslErrorReason(int sslError, const char* closedText);

}  // namespace mra
