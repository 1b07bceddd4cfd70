// Stream framing for SIP over TLS in the native listener: a port of src/sip/framing.ts (SipStreamFramer) with the
// same events and the same error statuses and reasons, so a client sees the same behaviour whichever listener
// runs. Messages are delimited by Content-Length (RFC 3261 §18.3); between messages RFC 5626 keepalives appear:
// CRLFCRLF (ping) and a lone CRLF (pong).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace mra {

struct SipFramerLimits {
  size_t maxHeaderBytes = 16384;
  size_t maxBodyBytes = 1 << 20;
};

enum class SipFrameKind { Message, Ping, Pong, Error };

struct SipFrameEvent {
  explicit SipFrameEvent(SipFrameKind k) : kind(k) {}
  SipFrameKind kind;
  const char* data = nullptr;  // Message: valid only during the callback
  size_t size = 0;
  int status = 0;              // Error: 400 or 513
  const char* reason = nullptr;
};

class SipFramer {
 public:
  using Sink = std::function<void(const SipFrameEvent&)>;

  explicit SipFramer(SipFramerLimits limits = {}) : limits_(limits) {}

  // Feeds a chunk and reports what it completes. After an Error nothing more is reported (the stream cannot
  // be resynchronised: the connection is closed).
  void push(const char* data, size_t size, const Sink& sink);
  // Bytes held of a message not yet complete: what the header timeout (slowloris guard) watches.
  size_t buffered() const { return buf_.size(); }
  bool failed() const { return failed_; }

 private:
  // Parses from view and returns how many bytes it consumed; sets failed_ on an unframeable stream.
  size_t parse(const char* p, size_t n, const Sink& sink);

  SipFramerLimits limits_;
  std::string buf_;
  size_t need_ = 0;  // bytes the message at the head of buf_ needs in total, once its headers are read
  bool failed_ = false;
};

// The body length of a header section (without its final CRLFCRLF), or -1 with *reason set when the stream
// cannot be framed (a wrong guess would desynchronise it). Exposed for the unit tests.
int64_t sipContentLength(const char* head, size_t n, const char** reason);

}  // namespace mra
