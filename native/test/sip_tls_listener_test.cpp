// The native SIP TLS listener core (no N-API) against a real OpenSSL client over loopback: handshake, framing
// across writes, replies, keepalives, and every close reason the edge relies on.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sip_tls/tls_listener.hpp"

using namespace mra;
using namespace std::chrono_literals;

namespace {

std::string bioText(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string s(p, size_t(n));
  BIO_free(b);
  return s;
}

// A self-signed P-256 certificate made with the OpenSSL API, so the test needs no files.
std::pair<std::string, std::string> selfSigned() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("edge.test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* c = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(c, x);
  BIO* k = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  X509_free(x);
  EVP_PKEY_free(key);
  return {bioText(c), bioText(k)};
}

struct Events {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SipTlsEvent> all;

  SipTlsSink sink() {
    return [this](std::vector<SipTlsEvent>&& batch) {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& e : batch) all.push_back(std::move(e));
      cv.notify_all();
    };
  }
  // The first event of this type (and id, when given) not yet taken.
  SipTlsEvent wait(SipTlsEventType type, uint32_t id = 0) {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      for (auto it = all.begin(); it != all.end(); ++it) {
        if (it->type == type && (id == 0 || it->id == id)) {
          SipTlsEvent e = std::move(*it);
          all.erase(it);
          return e;
        }
      }
      if (cv.wait_for(lock, 5s) == std::cv_status::timeout) FAIL("no event of the expected type within 5 s");
    }
  }
};

int tcpConnect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

struct Client {
  explicit Client(uint16_t port) {
    ctx = SSL_CTX_new(TLS_client_method());
    fd = tcpConnect(port);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
  }
  void write(const std::string& s) { REQUIRE(SSL_write(ssl, s.data(), int(s.size())) == int(s.size())); }
  // Reads until n bytes came (or the peer closed / 5 s passed).
  std::string read(size_t n) {
    std::string got;
    char buf[4096];
    while (got.size() < n) {
      const int r = SSL_read(ssl, buf, int(std::min(sizeof buf, n - got.size())));
      if (r <= 0) break;
      got.append(buf, size_t(r));
    }
    return got;
  }
  bool closedByPeer() {
    char b;
    return SSL_read(ssl, &b, 1) <= 0;
  }
  SSL_CTX* ctx;
  SSL* ssl;
  int fd;
};

SipTlsConfig config(const std::pair<std::string, std::string>& pem) {
  SipTlsConfig cfg;
  cfg.address = "127.0.0.1";
  cfg.certPem = pem.first;
  cfg.keyPem = pem.second;
  cfg.threads = 2;
  cfg.headerTimeoutMs = 0;
  cfg.idleTimeoutMs = 0;
  return cfg;
}

const std::string kA = "REGISTER sip:edge.test SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
const std::string kB = "OPTIONS sip:edge.test SIP/2.0\r\nl: 0\r\n\r\n";

}  // namespace

TEST_CASE("messages in, replies and keepalive answers out, close from the owner", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsListener listener(config(pem), ev.sink());
  const uint16_t port = listener.listen();
  REQUIRE(port != 0);
  Client client(port);
  const SipTlsEvent open = ev.wait(SipTlsEventType::Open);
  CHECK(open.remote.rfind("127.0.0.1:", 0) == 0);
  CHECK(open.local == "127.0.0.1:" + std::to_string(port));

  client.write(kA + kB);  // two messages in one record
  client.write(kA.substr(0, 20));
  std::this_thread::sleep_for(50ms);
  client.write(kA.substr(20));
  CHECK(ev.wait(SipTlsEventType::Message, open.id).data == kA);
  CHECK(ev.wait(SipTlsEventType::Message, open.id).data == kB);
  CHECK(ev.wait(SipTlsEventType::Message, open.id).data == kA);

  const std::string reply = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  REQUIRE(listener.send(open.id, reply.data(), reply.size()));
  CHECK(client.read(reply.size()) == reply);
  client.write("\r\n\r\n");  // RFC 5626 ping: answered by the listener itself
  CHECK(client.read(2) == "\r\n");

  CHECK_FALSE(listener.send(open.id + 1000, "x", 1));
  listener.close(open.id, "registration expired");
  listener.close(open.id, "again");  // idempotent
  const SipTlsEvent closed = ev.wait(SipTlsEventType::Closed, open.id);
  CHECK(closed.reason == "registration expired");
  CHECK_FALSE(listener.send(open.id, "x", 1));
  CHECK(client.closedByPeer());
  const SipTlsCounters& c = listener.counters();
  CHECK(c.accepted == 1);
  CHECK(c.messagesIn == 3);
  CHECK(c.messagesOut == 1);
  CHECK(c.connections == 0);
  listener.stop();
  std::lock_guard<std::mutex> lock(ev.mu);
  CHECK(ev.all.empty());  // no second Closed, nothing else
}

TEST_CASE("header and idle timeouts, unframeable streams and peer closes end connections with their reason", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsConfig cfg = config(pem);
  cfg.headerTimeoutMs = 300;
  cfg.idleTimeoutMs = 900;
  SipTlsListener listener(cfg, ev.sink());
  const uint16_t port = listener.listen();

  Client slow(port);
  const uint32_t slowId = ev.wait(SipTlsEventType::Open).id;
  Client idle(port);
  const uint32_t idleId = ev.wait(SipTlsEventType::Open).id;
  Client bad(port);
  const uint32_t badId = ev.wait(SipTlsEventType::Open).id;
  Client leaving(port);
  const uint32_t leavingId = ev.wait(SipTlsEventType::Open).id;

  slow.write("REGISTER sip:edge.test SIP/2.0\r\nVia: ");
  bad.write("REGISTER sip:edge.test SIP/2.0\r\n\r\n");
  SSL_shutdown(leaving.ssl);
  CHECK(ev.wait(SipTlsEventType::Closed, badId).reason == "unframeable stream: 400 Missing Content-Length on a stream transport");
  CHECK(ev.wait(SipTlsEventType::Closed, leavingId).reason == "connection closed");
  CHECK(ev.wait(SipTlsEventType::Closed, slowId).reason == "message incomplete after 300 ms (header timeout)");
  CHECK(ev.wait(SipTlsEventType::Closed, idleId).reason == "idle timeout");
  CHECK(slow.closedByPeer());
  CHECK(idle.closedByPeer());
}

TEST_CASE("failed and slow handshakes, and the connection limit", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsConfig cfg = config(pem);
  cfg.handshakeTimeoutMs = 300;
  cfg.maxConnections = 2;
  SipTlsListener listener(cfg, ev.sink());
  const uint16_t port = listener.listen();

  const int garbage = tcpConnect(port);
  REQUIRE(::write(garbage, "OPTIONS sip:x SIP/2.0\r\n\r\n", 25) == 25);
  CHECK_FALSE(ev.wait(SipTlsEventType::HandshakeFailed).reason.empty());
  ::close(garbage);

  const int silent = tcpConnect(port);
  Client held(port);
  ev.wait(SipTlsEventType::Open);
  const int third = tcpConnect(port);  // over the limit: the silent one still counts while it handshakes
  const SipTlsEvent refused = ev.wait(SipTlsEventType::Refused);
  CHECK(refused.reason == "connection limit");
  CHECK(refused.remote.rfind("127.0.0.1:", 0) == 0);
  char b;
  CHECK(::read(third, &b, 1) == 0);
  CHECK(ev.wait(SipTlsEventType::HandshakeFailed).reason == "handshake timeout");
  CHECK(listener.counters().handshakeFailures == 2);
  CHECK(listener.counters().refused == 1);
  ::close(silent);
  ::close(third);
}

TEST_CASE("a burst of connections, once over, gives its freed handshake memory back (malloc_trim)", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsConfig cfg = config(pem);
  cfg.threads = 1;  // the burst is counted per thread
  SipTlsListener listener(cfg, ev.sink());
  const uint16_t port = listener.listen();
  auto waitTrims = [&](uint64_t n) {
    for (int i = 0; i < 100 && listener.counters().memoryTrims < n; ++i) std::this_thread::sleep_for(20ms);
    return listener.counters().memoryTrims.load();
  };
  {
    std::vector<std::unique_ptr<Client>> few;
    for (int i = 0; i < 10; ++i) few.push_back(std::make_unique<Client>(port));
  }
  CHECK(waitTrims(1) == 0);  // 10 opened and 10 freed: no burst yet
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 50; ++i) held.push_back(std::make_unique<Client>(port));
  CHECK(waitTrims(1) == 1);  // 70 in all, then quiet
  CHECK(waitTrims(2) == 1);  // and not again without new churn
  CHECK(listener.counters().connections == 50);
}

TEST_CASE("listen errors name their cause", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsListener first(config(pem), ev.sink());
  const uint16_t port = first.listen();
  SipTlsConfig cfg = config(pem);
  cfg.port = port;
  SipTlsListener second(cfg, ev.sink());
  CHECK_THROWS_WITH(second.listen(), "listen 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  cfg = config(pem);
  cfg.certPem = "not a certificate";
  SipTlsListener badCert(cfg, ev.sink());
  CHECK_THROWS_WITH(badCert.listen(), Catch::StartsWith("certificate: "));
  cfg = config(pem);
  cfg.keyPem = selfSigned().second;
  SipTlsListener wrongKey(cfg, ev.sink());
  CHECK_THROWS_WITH(wrongKey.listen(), Catch::StartsWith("key: ") && Catch::Contains("mismatch"));
  cfg = config(pem);
  cfg.address = "edge.example";
  SipTlsListener badAddress(cfg, ev.sink());
  CHECK_THROWS_WITH(badAddress.listen(), "listen edge.example:0: not an IPv4 or IPv6 address");
}

TEST_CASE("a client that does not read is cut off at 1 MiB of queued output", "[sip-tls]") {
  const auto pem = selfSigned();
  Events ev;
  SipTlsListener listener(config(pem), ev.sink());
  const uint16_t port = listener.listen();
  Client deaf(port);
  const uint32_t id = ev.wait(SipTlsEventType::Open).id;
  const std::string chunk(64 * 1024, 'A');
  // The kernel's socket buffers take a few MiB first; 64 MiB is far beyond them and the 1 MiB queue.
  int sent = 0;
  while (sent < 1024 && listener.send(id, chunk.data(), chunk.size())) {
    ++sent;
    std::this_thread::sleep_for(1ms);
  }
  CHECK(ev.wait(SipTlsEventType::Closed, id).reason == "send queue full");
  CHECK_FALSE(listener.send(id, "x", 1));
}

TEST_CASE("IPv6: listens on ::1 and reports the remote as Node does", "[sip-tls]") {
  const int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  const bool haveV6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  if (probe >= 0) ::close(probe);
  if (!haveV6) {
    WARN("no IPv6 loopback here: skipped");
    return;
  }
  const auto pem = selfSigned();
  Events ev;
  SipTlsConfig cfg = config(pem);
  cfg.address = "::1";
  SipTlsListener listener(cfg, ev.sink());
  const uint16_t port = listener.listen();
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sa.sin6_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  REQUIRE(SSL_connect(ssl) == 1);
  const SipTlsEvent open = ev.wait(SipTlsEventType::Open);
  CHECK(open.remote.rfind("::1:", 0) == 0);
  CHECK(open.local == "::1:" + std::to_string(port));
  REQUIRE(SSL_write(ssl, kB.data(), int(kB.size())) == int(kB.size()));
  CHECK(ev.wait(SipTlsEventType::Message, open.id).data == kB);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  CHECK(ev.wait(SipTlsEventType::Closed, open.id).reason == "connection closed");
}
