// One network thread of the native SIP TLS listener: its own epoll over the shared listening socket
// (EPOLLEXCLUSIVE, so one thread wakes per new client), the connections it accepted, and a command queue through
// which JavaScript's send/close reach the owning thread without touching its connections.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sip_tls/tls_listener.hpp"

typedef struct ssl_st SSL;

namespace mra {

struct SipTlsConnection;

class SipTlsThread {
 public:
  SipTlsThread(int index, int count, int listenFd, SSL_CTX* ctx, const SipTlsConfig& cfg, SipTlsCounters& counters,
               const SipTlsSink& sink);
  ~SipTlsThread();
  void start();
  // Ends the loop and frees every connection without reporting them (the caller has stopped listening).
  void stop();
  // hold: queue without waking the thread; wakeIfHeld() wakes it later, once for the whole batch.
  bool send(uint32_t id, const char* data, size_t size, bool hold);
  void wakeIfHeld();
  void close(uint32_t id, const std::string& reason);

 private:
  struct Command {
    uint32_t id;
    bool close;
    std::string data;
  };

  void run();
  void acceptSome(uint64_t now);
  void onSocket(SipTlsConnection& c, uint32_t events, uint64_t now);
  void handshake(SipTlsConnection& c, uint64_t now);
  void readable(SipTlsConnection& c, uint64_t now);
  void flush(SipTlsConnection& c);
  void drainCommands();
  void sweep(uint64_t now);
  void trimAfterBurst(uint64_t now);
  void watch(SipTlsConnection& c, bool out);
  void markDirty(SipTlsConnection& c);
  // Frees the connection (the reference dies with it) and reports it: Closed when it was announced, else
  // HandshakeFailed (when a reason is given).
  void finish(SipTlsConnection& c, std::string reason);
  void wake();

  const int index_, count_, listenFd_;
  SSL_CTX* const ctx_;
  const SipTlsConfig& cfg_;
  SipTlsCounters& counters_;
  const SipTlsSink& sink_;
  int epollFd_ = -1, eventFd_ = -1;
  bool listening_ = false;  // the listen fd is in this epoll (taken out for a while when out of descriptors)
  // Handshakes in progress on this thread. Past kMaxHandshaking it stops accepting until some finish: a
  // reconnect storm then queues in the kernel rather than as thousands of half-done handshakes, each of
  // which would wait behind all the others' first flights before any client could send a request.
  int handshaking_ = 0;
  bool outOfDescriptors_ = false;  // accept failed with EMFILE and the like: retried at the next sweep
  // Connections opened or freed (handshakes included) since the last malloc_trim, and when that was.
  uint32_t churnSinceTrim_ = 0;
  uint64_t lastTrim_ = 0;
  void listen(bool on);
  uint32_t seq_ = 0;
  std::thread thread_;

  // Network-thread state.
  std::unordered_map<uint32_t, std::unique_ptr<SipTlsConnection>> conns_;
  std::vector<uint32_t> dirty_;
  std::vector<SipTlsEvent> events_;
  std::vector<Command> drained_;

  // Shared with the JavaScript thread, under mu_: what send() may address, and the reasons JS gave for the
  // closes it asked for (the Closed event carries them, whichever side finishes the connection).
  std::mutex mu_;
  std::vector<Command> queue_;
  std::unordered_set<uint32_t> live_;
  std::unordered_map<uint32_t, std::string> closeReasons_;
  bool stopping_ = false;
  bool wakeHeld_ = false;
};

}  // namespace mra
