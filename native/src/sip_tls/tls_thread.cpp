#include "sip_tls/tls_thread.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "sip_tls/tls_connection.hpp"
#include "worker.hpp"

namespace mra {

namespace {
constexpr int kMaxEvents = 128;

bool hasUnread(int fd) {
  char byte;
  return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

constexpr int kAcceptPerTurn = 64;
constexpr int kMaxHandshaking = 128;
constexpr uint64_t kSweepMs = 200;
// A burst of this many connections opened or freed, once over, is worth handing its freed buffers back to the system.
constexpr uint32_t kTrimAfterChurn = 64;
constexpr uint64_t kTrimIntervalMs = 2000;
}  // namespace

SipTlsThread::SipTlsThread(int index, int count, int listenFd, SSL_CTX* ctx, const SipTlsConfig& cfg,
                           SipTlsCounters& counters, const SipTlsSink& sink)
    : index_(index), count_(count), listenFd_(listenFd), ctx_(ctx), cfg_(cfg), counters_(counters), sink_(sink) {
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  eventFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epollFd_ < 0 || eventFd_ < 0) {
    if (epollFd_ >= 0) ::close(epollFd_);
    if (eventFd_ >= 0) ::close(eventFd_);
    throw SipTlsError(std::string("sip tls thread: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, eventFd_, &ev);
  // EPOLLEXCLUSIVE: a new client wakes one thread, not all of them.
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = kListenTag;
  listening_ = ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev) == 0;
}

SipTlsThread::~SipTlsThread() {
  stop();
  ::close(epollFd_);
  ::close(eventFd_);
}

void SipTlsThread::start() { thread_ = std::thread([this] { run(); }); }

void SipTlsThread::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
}

void SipTlsThread::wake() {
  const uint64_t one = 1;
  // A full eventfd counter still wakes the loop, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(eventFd_, &one, sizeof one);
}

bool SipTlsThread::send(uint32_t id, const char* data, size_t size, bool hold) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || live_.count(id) == 0) return false;
    first = queue_.empty();
    queue_.push_back(Command{id, false, std::string(data, size)});
    if (first && hold) {
      wakeHeld_ = true;
      first = false;
    }
  }
  counters_.messagesOut.fetch_add(1, std::memory_order_relaxed);
  counters_.bytesOut.fetch_add(size, std::memory_order_relaxed);
  // One wake per batch: the sends of one JS tick cost one eventfd write together.
  if (first) wake();
  return true;
}

void SipTlsThread::wakeIfHeld() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wakeHeld_) return;
    wakeHeld_ = false;
  }
  wake();
}

void SipTlsThread::close(uint32_t id, const std::string& reason) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || live_.erase(id) == 0) return;
    closeReasons_[id] = reason;
    first = queue_.empty();
    queue_.push_back(Command{id, true, {}});
  }
  if (first) wake();
}

void SipTlsThread::run() {
  // A write to a reset peer must fail with EPIPE, not kill the process (Node ignores SIGPIPE, a C++ host may not).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  epoll_event evs[kMaxEvents];
  uint64_t nextSweep = monotonicMs() + kSweepMs;
  for (;;) {
    const int n = ::epoll_wait(epollFd_, evs, kMaxEvents, int(kSweepMs));
    const uint64_t now = monotonicMs();
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = evs[i].data.u64;
      if (tag == kListenTag) {
        acceptSome(now);
      } else if (tag == kWakeTag) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(eventFd_, &v, sizeof v);
        drainCommands();
      } else {
        // Looked up by id, never by pointer: an earlier event of this batch may have freed the connection.
        auto it = conns_.find(uint32_t(tag - kConnTag));
        if (it != conns_.end()) onSocket(*it->second, evs[i].events, now);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    if (!listening_ && !outOfDescriptors_ && handshaking_ < kMaxHandshaking / 2) listen(true);
    if (now >= nextSweep) {
      sweep(now);
      nextSweep = now + kSweepMs;
    }
    // Every send of this turn leaves now, in as few TLS records as SSL_write makes of the joined bytes.
    for (uint32_t id : dirty_) {
      auto it = conns_.find(id);
      if (it == conns_.end()) continue;
      it->second->dirty = false;
      flush(*it->second);
    }
    dirty_.clear();
    if (!events_.empty()) {
      sink_(std::move(events_));
      events_.clear();
    }
  }
  // Stopping: JS marks its own connections closed, so nothing is reported; every SSL and fd is freed.
  for (auto& [id, c] : conns_) {
    (c->open ? counters_.connections : counters_.handshaking).fetch_sub(1);
    counters_.total.fetch_sub(1);
  }
  conns_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  live_.clear();
  closeReasons_.clear();
  queue_.clear();
}

void SipTlsThread::listen(bool on) {
  if (on == listening_) return;
  if (on) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenTag;
    listening_ = ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev) == 0;
  } else {
    ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, listenFd_, nullptr);
    listening_ = false;
  }
}

void SipTlsThread::acceptSome(uint64_t now) {
  for (int k = 0; k < kAcceptPerTurn; ++k) {
    if (handshaking_ >= kMaxHandshaking) return listen(false);
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    const int fd = ::accept4(listenFd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors the listen socket stays readable: step out of accepting until the next sweep
        // rather than spin.
        outOfDescriptors_ = true;
        listen(false);
      }
      return;
    }
    if (counters_.total.fetch_add(1) >= int64_t(cfg_.maxConnections)) {
      counters_.total.fetch_sub(1);
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      ::close(fd);
      SipTlsEvent ev(SipTlsEventType::Refused);
      ev.remote = formatSockaddr(&sa);
      ev.reason = "connection limit";
      events_.push_back(std::move(ev));
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(ctx_);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
      if (ssl) SSL_free(ssl);
      ::close(fd);
      counters_.total.fetch_sub(1);
      counters_.handshakeFailures.fetch_add(1, std::memory_order_relaxed);
      SipTlsEvent ev(SipTlsEventType::HandshakeFailed);
      ev.remote = formatSockaddr(&sa);
      ev.reason = sslErrorReason(SSL_ERROR_SSL, "cannot create the TLS state");
      events_.push_back(std::move(ev));
      continue;
    }
    SSL_set_accept_state(ssl);
    // The thread is in the id so that send/close go straight to the owner; ids are never reused.
    const uint32_t id = ++seq_ * uint32_t(count_) + uint32_t(index_);
    auto c = std::make_unique<SipTlsConnection>(id, fd, ssl, SipFramerLimits{cfg_.maxHeaderBytes, cfg_.maxBodyBytes}, now);
    BIO* bio = SSL_get_rbio(ssl);
    BIO_set_callback_ex(bio, noteDrained);
    BIO_set_callback_arg(bio, reinterpret_cast<char*>(c.get()));
    c->remote = formatSockaddr(&sa);
    counters_.accepted.fetch_add(1, std::memory_order_relaxed);
    counters_.handshaking.fetch_add(1);
    ++handshaking_;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kConnTag + id;
    ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev);
    conns_.emplace(id, std::move(c));
  }
}

void SipTlsThread::drainCommands() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    drained_.swap(queue_);
  }
  for (Command& cmd : drained_) {
    auto it = conns_.find(cmd.id);
    if (it == conns_.end()) continue;
    SipTlsConnection& c = *it->second;
    if (cmd.close) {
      finish(c, "closed locally");  // the reason JS gave is in closeReasons_
      continue;
    }
    if (c.out.empty()) c.out.swap(cmd.data);
    else c.out.append(cmd.data);
    if (c.out.size() > kMaxOutput) {
      finish(c, "send queue full");
      continue;
    }
    markDirty(c);
  }
  drained_.clear();
}

void SipTlsThread::sweep(uint64_t now) {
  outOfDescriptors_ = false;
  if (handshaking_ < kMaxHandshaking) listen(true);
  std::vector<std::pair<uint32_t, std::string>> doomed;
  for (auto& [id, c] : conns_) {
    if (!c->open) {
      // The guard is against a client that stalls. Bytes from it still unread are this thread's backlog (a
      // reconnect storm of thousands of handshakes), not its fault: closing then would waste the handshake
      // half done and lose the request a TLS 1.3 client sends right behind its Finished.
      if (cfg_.handshakeTimeoutMs > 0 && now - c->since >= cfg_.handshakeTimeoutMs && !hasUnread(c->fd)) doomed.emplace_back(id, "handshake timeout");
    } else if (cfg_.headerTimeoutMs > 0 && c->partialSince != 0 && now - c->partialSince >= cfg_.headerTimeoutMs) {
      doomed.emplace_back(id, "message incomplete after " + std::to_string(cfg_.headerTimeoutMs) + " ms (header timeout)");
    } else if (cfg_.idleTimeoutMs > 0 && now - c->lastRx >= cfg_.idleTimeoutMs) {
      doomed.emplace_back(id, "idle timeout");
    }
  }
  for (auto& [id, reason] : doomed) finish(*conns_.at(id), std::move(reason));
  trimAfterBurst(now);
}

// Each handshake borrows ~50 KB (record buffers, the handshake buffer, key shares) and keeps ~14 KB. After a
// burst (a reconnect storm, the edge's start) glibc keeps the freed pages between the connections that stayed,
// where only malloc_trim returns them: 3-4 KB per held client, measured with 10,000 clients. It walks the whole
// heap (a few ms for 10,000 clients), so it runs once a burst is over, not per handshake.
void SipTlsThread::trimAfterBurst(uint64_t now) {
  if (churnSinceTrim_ < kTrimAfterChurn || handshaking_ > 0 || now - lastTrim_ < kTrimIntervalMs) return;
  churnSinceTrim_ = 0;
  lastTrim_ = now;
  const auto start = std::chrono::steady_clock::now();
  ::malloc_trim(0);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  counters_.memoryTrims.fetch_add(1, std::memory_order_relaxed);
  counters_.memoryTrimMicros.fetch_add(uint64_t(took.count()), std::memory_order_relaxed);
}

}  // namespace mra
