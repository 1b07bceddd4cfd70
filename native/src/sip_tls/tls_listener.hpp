// The edge's client-facing SIP over TLS, terminated in C++ on its own network threads: JavaScript never sees a
// socket, only whole SIP messages and connection events. Node's TLS socket costs about 30 KB per idle client
// (OpenSSL's read buffer kept, TLSWrap, the JS socket) and runs every handshake on the event loop; here an idle
// client is an SSL object with released buffers and a few dozen bytes of bookkeeping.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace mra {

struct SipTlsConfig {
  std::string address = "0.0.0.0";
  uint16_t port = 0;  // 0: ephemeral
  std::string certPem, keyPem;  // certPem: the leaf, then any intermediates
  int threads = 1;
  int backlog = 4096;
  uint32_t maxConnections = 100000;
  size_t maxHeaderBytes = 65536, maxBodyBytes = 262144;
  uint32_t headerTimeoutMs = 10000, idleTimeoutMs = 600000, handshakeTimeoutMs = 10000;  // 0 disables the first two
};

enum class SipTlsEventType { Open, Message, Closed, Refused, HandshakeFailed };

struct SipTlsEvent {
  explicit SipTlsEvent(SipTlsEventType t, uint32_t id_ = 0) : type(t), id(id_) {}
  SipTlsEventType type;
  uint32_t id;
  std::string remote, local;  // Open; remote also for Refused and HandshakeFailed
  std::string reason;         // Closed, Refused, HandshakeFailed
  std::string data;           // Message
};

// Called on a network thread with that thread's events of one loop turn, in order per connection.
using SipTlsSink = std::function<void(std::vector<SipTlsEvent>&&)>;

struct SipTlsCounters {
  std::atomic<uint64_t> accepted{0}, refused{0}, handshakeFailures{0}, messagesIn{0}, bytesIn{0}, messagesOut{0},
      bytesOut{0};
  // malloc_trim calls after handshake bursts, and the time they took (see SipTlsThread::trimAfterBurst).
  std::atomic<uint64_t> memoryTrims{0}, memoryTrimMicros{0};
  std::atomic<int64_t> connections{0}, handshaking{0};
  // Announced plus handshaking, over all threads: what maxConnections bounds.
  std::atomic<int64_t> total{0};
};

struct SipTlsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SipTlsThread;

class SipTlsListener {
 public:
  SipTlsListener(SipTlsConfig cfg, SipTlsSink sink);
  ~SipTlsListener();  // stops if still running
  SipTlsListener(const SipTlsListener&) = delete;
  SipTlsListener& operator=(const SipTlsListener&) = delete;

  // Loads the certificate, binds, listens and starts the threads; returns the bound port. Throws SipTlsError
  // naming the cause.
  uint16_t listen();
  // Copies data into the connection's output, flushed at the end of its thread's turn. false when the id is
  // unknown or closed (nothing sent).
  bool send(uint32_t id, const char* data, size_t size);
  // While held (JavaScript holds them for the rest of its turn), sends queue without waking their threads;
  // releasing wakes each thread once, so a turn's replies cost one wake per thread, not one per reply.
  void holdWakes(bool hold);
  // Idempotent; the Closed event carries this reason.
  void close(uint32_t id, const std::string& reason);
  // Closes the listening socket and every connection and joins the threads; no events after it returns.
  void stop();
  const SipTlsCounters& counters() const { return counters_; }
  const SipTlsConfig& config() const { return cfg_; }

 private:
  SipTlsThread* owner(uint32_t id) const;

  SipTlsConfig cfg_;
  SipTlsSink sink_;
  SipTlsCounters counters_;
  SSL_CTX* ctx_ = nullptr;
  int listenFd_ = -1;
  bool holdWakes_ = false;
  std::vector<std::unique_ptr<SipTlsThread>> threads_;
};

// Builds the server context from PEM text (min TLS 1.2, released buffers, no server-side session cache).
SSL_CTX* newSipTlsContext(const std::string& certPem, const std::string& keyPem);
// "ip:port" as Node formats remoteAddress/remotePort (IPv6 without brackets).
std::string formatSockaddr(const void* sa);

}  // namespace mra
