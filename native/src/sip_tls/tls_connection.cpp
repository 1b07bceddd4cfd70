#include "sip_tls/tls_connection.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sip_tls/tls_thread.hpp"

namespace mra {

namespace {
constexpr int kReadsPerTurn = 64;  // a client that floods yields to the others; level-triggered epoll comes back
}  // namespace

std::string sslErrorReason(int sslError, const char* closedText) {
  const unsigned long err = ERR_get_error();
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    ERR_clear_error();
    return buf;
  }
  if (sslError == SSL_ERROR_SYSCALL && errno != 0 && errno != ECONNRESET && errno != EPIPE) return strerror(errno);
  return closedText;
}

long noteDrained(BIO* b, int oper, const char*, size_t len, int, long, int ret, size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* c = reinterpret_cast<SipTlsConnection*>(BIO_get_callback_arg(b));
    if (c) c->drained = ret <= 0 || processed == nullptr || *processed < len;
  }
  return ret;
}

SipTlsConnection::~SipTlsConnection() {
  if (ssl) SSL_free(ssl);
  if (fd >= 0) ::close(fd);
}

void SipTlsThread::onSocket(SipTlsConnection& c, uint32_t events, uint64_t now) {
  if (!c.open) return handshake(c, now);
  // A read can need the socket writable (a TLS 1.3 KeyUpdate answer): either readiness retries both.
  if (events & EPOLLOUT) {
    const uint32_t id = c.id;  // flush() may free c
    flush(c);
    if (conns_.find(id) == conns_.end()) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLOUT)) readable(c, now);
}

void SipTlsThread::handshake(SipTlsConnection& c, uint64_t now) {
  ERR_clear_error();
  const int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    c.open = true;
    c.lastRx = now;
    --handshaking_;
    ++churnSinceTrim_;
    counters_.handshaking.fetch_sub(1);
    counters_.connections.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.insert(c.id);
    }
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    ::getsockname(c.fd, reinterpret_cast<sockaddr*>(&sa), &len);
    SipTlsEvent ev(SipTlsEventType::Open);
    ev.id = c.id;
    ev.remote = c.remote;
    ev.local = formatSockaddr(&sa);
    events_.push_back(std::move(ev));
    if (c.watchingOut) watch(c, false);
    // The client's first message may have come with its Finished.
    return readable(c, now);
  }
  const int e = SSL_get_error(c.ssl, r);
  if (e == SSL_ERROR_WANT_READ) return watch(c, false);
  if (e == SSL_ERROR_WANT_WRITE) return watch(c, true);
  finish(c, sslErrorReason(e, "connection closed during handshake"));
}

void SipTlsThread::readable(SipTlsConnection& c, uint64_t now) {
  static thread_local char buf[16384];
  bool gotMessage = false;
  int status = 0;
  const char* failure = nullptr;
  auto onFrame = [&](const SipFrameEvent& f) {
    switch (f.kind) {
      case SipFrameKind::Message: {
        gotMessage = true;
        counters_.messagesIn.fetch_add(1, std::memory_order_relaxed);
        SipTlsEvent ev(SipTlsEventType::Message);
        ev.id = c.id;
        ev.data.assign(f.data, f.size);
        events_.push_back(std::move(ev));
        break;
      }
      case SipFrameKind::Ping:  // RFC 5626 §4.4.1: answered here, JS never sees keepalives
        c.out.append("\r\n");
        markDirty(c);
        break;
      case SipFrameKind::Pong:
        break;
      case SipFrameKind::Error:
        status = f.status;
        failure = f.reason;
        break;
    }
  };
  for (int reads = 0; reads < kReadsPerTurn || SSL_pending(c.ssl) > 0; ++reads) {
    ERR_clear_error();
    const int r = SSL_read(c.ssl, buf, sizeof buf);
    if (r > 0) {
      counters_.bytesIn.fetch_add(uint64_t(r), std::memory_order_relaxed);
      c.lastRx = now;
      c.framer.push(buf, size_t(r), onFrame);
      if (failure) return finish(c, "unframeable stream: " + std::to_string(status) + " " + failure);
      // Read-ahead took all the socket had and every record of it is read: epoll (level-triggered) calls
      // again when more comes, so no read() just to hear EAGAIN.
      if (c.drained && SSL_has_pending(c.ssl) == 0) break;
      continue;
    }
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_WANT_WRITE) {
      watch(c, true);
      break;
    }
    return finish(c, e == SSL_ERROR_ZERO_RETURN ? "connection closed" : sslErrorReason(e, "connection closed"));
  }
  // The header timeout runs from the first byte of a message still incomplete; a whole message restarts it.
  if (c.framer.buffered() == 0) c.partialSince = 0;
  else if (c.partialSince == 0 || gotMessage) c.partialSince = now;
}

void SipTlsThread::flush(SipTlsConnection& c) {
  while (!c.out.empty()) {
    ERR_clear_error();
    const int r = SSL_write(c.ssl, c.out.data(), int(std::min<size_t>(c.out.size(), 1 << 30)));
    if (r > 0) {
      c.out.erase(0, size_t(r));
      continue;
    }
    const int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_WRITE) return watch(c, true);
    if (e == SSL_ERROR_WANT_READ) return;
    return finish(c, sslErrorReason(e, "connection closed"));
  }
  // Nothing held between bursts: an idle connection keeps no output buffer.
  std::string().swap(c.out);
  if (c.watchingOut) watch(c, false);
}

void SipTlsThread::watch(SipTlsConnection& c, bool out) {
  if (c.watchingOut == out) return;
  c.watchingOut = out;
  epoll_event ev{};
  ev.events = out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.u64 = kConnTag + c.id;
  ::epoll_ctl(epollFd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void SipTlsThread::markDirty(SipTlsConnection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(c.id);
}

void SipTlsThread::finish(SipTlsConnection& c, std::string reason) {
  const uint32_t id = c.id;
  SipTlsEvent ev(c.open ? SipTlsEventType::Closed : SipTlsEventType::HandshakeFailed);
  if (c.open) {
    std::lock_guard<std::mutex> lock(mu_);
    auto given = closeReasons_.find(id);
    if (given != closeReasons_.end()) {
      reason = std::move(given->second);
      closeReasons_.erase(given);
    } else {
      live_.erase(id);
    }
  }
  if (c.open) {
    // A polite close_notify when the peer can still take it; never waited for.
    if (reason.rfind("connection closed", 0) != 0 && reason != "send queue full") SSL_shutdown(c.ssl);
    counters_.connections.fetch_sub(1);
    ev.id = id;
  } else {
    --handshaking_;
    counters_.handshaking.fetch_sub(1);
    counters_.handshakeFailures.fetch_add(1, std::memory_order_relaxed);
    ev.remote = c.remote;
  }
  counters_.total.fetch_sub(1);
  ++churnSinceTrim_;
  ev.reason = std::move(reason);
  events_.push_back(std::move(ev));
  conns_.erase(id);  // frees the SSL and closes the socket
}

}  // namespace mra
