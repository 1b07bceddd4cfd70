#include "sip_tls/tls_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sip_tls/tls_thread.hpp"

namespace mra {

namespace {

std::string lastSslError() {
  const unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(err, buf, sizeof buf);
  return buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

std::string formatSockaddr(const void* p) {
  const auto* sa = static_cast<const sockaddr*>(p);
  char ip[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    const auto* in = static_cast<const sockaddr_in*>(p);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = static_cast<const sockaddr_in6*>(p);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
  }
  return std::string(ip) + ":" + std::to_string(port);
}

SSL_CTX* newSipTlsContext(const std::string& certPem, const std::string& keyPem) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw SipTlsError("tls context: " + lastSslError());
  auto fail = [&](const std::string& what) {
    const std::string msg = what + ": " + lastSslError();
    SSL_CTX_free(ctx);
    throw SipTlsError(msg);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Released buffers are most of the memory saving: an idle SSL keeps no 16 KB read/write buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read() takes whatever the socket holds (not a record header, then its body); the buffer is still
  // released whenever it empties.
  SSL_CTX_set_read_ahead(ctx, 1);
  // Resumption by tickets only: a server-side cache would hold state per client for nothing.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  // A client that drops TCP without close_notify (most do) is an ordinary "connection closed", not a TLS error:
  // SIP frames by Content-Length, so a truncated message is never delivered anyway.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);

  std::unique_ptr<BIO, BioFree> certs(BIO_new_mem_buf(certPem.data(), int(certPem.size())));
  X509* leaf = certs ? PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!leaf) fail("certificate");
  const int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) fail("certificate");
  // Intermediates follow the leaf; the end of the text is the only expected error.
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      fail("certificate chain");
    }
  }
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> keyBio(BIO_new_mem_buf(keyPem.data(), int(keyPem.size())));
  EVP_PKEY* key = keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!key) fail("key");
  const int keyUsed = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (keyUsed != 1) fail("key");
  if (SSL_CTX_check_private_key(ctx) != 1) fail("key does not match the certificate");
  return ctx;
}

SipTlsListener::SipTlsListener(SipTlsConfig cfg, SipTlsSink sink) : cfg_(std::move(cfg)), sink_(std::move(sink)) {
  if (cfg_.threads < 1 || cfg_.threads > 64) throw SipTlsError("threads must be 1-64");
}

SipTlsListener::~SipTlsListener() { stop(); }

uint16_t SipTlsListener::listen() {
  if (listenFd_ >= 0) throw SipTlsError("already listening");
  const std::string where = "listen " + cfg_.address + ":" + std::to_string(cfg_.port);
  sockaddr_storage ss{};
  socklen_t len;
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, cfg_.address.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(cfg_.port);
    len = sizeof *in;
  } else if (::inet_pton(AF_INET6, cfg_.address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(cfg_.port);
    len = sizeof *in6;
  } else {
    throw SipTlsError(where + ": not an IPv4 or IPv6 address");
  }
  SSL_CTX* ctx = newSipTlsContext(cfg_.certPem, cfg_.keyPem);
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail = [&](const std::string& what) {
    const std::string msg = where + ": " + what;
    if (fd >= 0) ::close(fd);
    SSL_CTX_free(ctx);
    throw SipTlsError(msg);
  };
  if (fd < 0) fail(strerror(errno));
  const int one = 1, zero = 0;
  // SO_REUSEADDR lets a restarted edge bind over TIME_WAIT; not SO_REUSEPORT, which would let a second
  // process share the port silently.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // "::" takes IPv4 clients too, as Node's listen does.
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) fail(strerror(errno));
  if (::listen(fd, cfg_.backlog > 0 ? cfg_.backlog : 4096) != 0) fail(strerror(errno));
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  const uint16_t port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  try {
    for (int i = 0; i < cfg_.threads; ++i)
      threads_.push_back(std::make_unique<SipTlsThread>(i, cfg_.threads, fd, ctx, cfg_, counters_, sink_));
  } catch (const std::exception& e) {
    threads_.clear();
    fail(e.what());
  }
  ctx_ = ctx;
  listenFd_ = fd;
  for (auto& t : threads_) t->start();
  return port;
}

SipTlsThread* SipTlsListener::owner(uint32_t id) const {
  if (threads_.empty()) return nullptr;
  return threads_[id % threads_.size()].get();
}

bool SipTlsListener::send(uint32_t id, const char* data, size_t size) {
  SipTlsThread* t = owner(id);
  return t != nullptr && t->send(id, data, size, holdWakes_);
}

void SipTlsListener::holdWakes(bool hold) {
  holdWakes_ = hold;
  if (!hold)
    for (auto& t : threads_) t->wakeIfHeld();
}

void SipTlsListener::close(uint32_t id, const std::string& reason) {
  if (SipTlsThread* t = owner(id)) t->close(id, reason);
}

void SipTlsListener::stop() {
  for (auto& t : threads_) t->stop();
  threads_.clear();
  if (listenFd_ >= 0) ::close(listenFd_);
  listenFd_ = -1;
  if (ctx_) SSL_CTX_free(ctx_);
  ctx_ = nullptr;
}

}  // namespace mra
