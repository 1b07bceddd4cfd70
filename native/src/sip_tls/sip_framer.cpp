#include "sip_tls/sip_framer.hpp"

#include <cstring>

namespace mra {

namespace {

constexpr char kCrlfCrlf[] = "\r\n\r\n";

inline bool isLineEnd(char c) { return c == '\r' || c == '\n'; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

// The JS regex /^(?:content-length|l)[ \t]*:(.*)$/gim over a latin1 string: lines end at CR or LF alone, so
// every run between two of them (empty ones too) is a candidate; a name must start the line. The `l`
// alternative cannot match where the long name did (that starts with `c`), so no backtracking is needed.
bool matchName(const char* p, const char* end, const char** value) {
  static const char kLong[] = "content-length";
  const size_t longLen = sizeof kLong - 1;
  const char* r;
  size_t i = 0;
  if (size_t(end - p) >= longLen)
    while (i < longLen && lower(p[i]) == kLong[i]) ++i;
  if (i == longLen) r = p + longLen;
  else if (p < end && lower(*p) == 'l') r = p + 1;
  else return false;
  while (r < end && (*r == ' ' || *r == '\t')) ++r;
  if (r == end || *r != ':') return false;
  *value = r + 1;
  return true;
}

}  // namespace

int64_t sipContentLength(const char* head, size_t n, const char** reason) {
  const char* end = head + n;
  const char* found = nullptr;
  const char* foundEnd = nullptr;
  int count = 0;
  for (const char* line = head; line <= end;) {
    const char* eol = line;
    while (eol < end && !isLineEnd(*eol)) ++eol;
    const char* value;
    if (matchName(line, eol, &value)) {
      if (++count == 1) found = value, foundEnd = eol;
    }
    if (eol == end) break;
    line = eol + 1;
  }
  if (count == 0) return *reason = "Missing Content-Length on a stream transport", -1;
  if (count > 1) return *reason = "Multiple Content-Length header fields", -1;
  while (found < foundEnd && (*found == ' ' || *found == '\t')) ++found;
  while (foundEnd > found && (foundEnd[-1] == ' ' || foundEnd[-1] == '\t')) --foundEnd;
  const size_t digits = size_t(foundEnd - found);
  if (digits < 1 || digits > 10) return *reason = "Malformed Content-Length", -1;
  int64_t v = 0;
  for (const char* d = found; d < foundEnd; ++d) {
    if (*d < '0' || *d > '9') return *reason = "Malformed Content-Length", -1;
    v = v * 10 + (*d - '0');
  }
  return v;
}

void SipFramer::push(const char* data, size_t size, const Sink& sink) {
  if (failed_ || size == 0) return;
  // The usual case, a whole message per TLS record, is parsed in place: nothing is copied unless left over.
  if (buf_.empty()) {
    const size_t used = parse(data, size, sink);
    if (!failed_ && used < size) buf_.assign(data + used, size - used);
    return;
  }
  buf_.append(data, size);
  // A body still arriving: skip re-reading the header section on every chunk.
  if (buf_.size() < need_) return;
  const size_t used = parse(buf_.data(), buf_.size(), sink);
  if (failed_) return;
  if (used == buf_.size()) {
    // Thousands of idle connections each keeping a grown buffer would cost more than the reallocation.
    std::string().swap(buf_);
  } else if (used > 0) {
    buf_.erase(0, used);
  }
}

size_t SipFramer::parse(const char* p, size_t n, const Sink& sink) {
  size_t at = 0;
  auto fail = [&](int status, const char* reason) {
    failed_ = true;
    std::string().swap(buf_);
    need_ = 0;
    SipFrameEvent ev(SipFrameKind::Error);
    ev.status = status;
    ev.reason = reason;
    sink(ev);
    return n;
  };
  for (;;) {
    const size_t left = n - at;
    const char* b = p + at;
    // Keepalives sit only between messages: a CRLF pair is a ping, a lone CRLF a pong.
    if (left >= 2 && b[0] == '\r' && b[1] == '\n') {
      if (left >= 4 && b[2] == '\r' && b[3] == '\n') {
        sink(SipFrameEvent(SipFrameKind::Ping));
        at += 4;
        continue;
      }
      if (left < 4 && (left == 2 || b[2] == '\r')) {
        if (left == 2) {
          sink(SipFrameEvent(SipFrameKind::Pong));
          at += 2;
        }
        break;
      }
      sink(SipFrameEvent(SipFrameKind::Pong));
      at += 2;
      continue;
    }
    if (left == 0) break;
    const char* hit = static_cast<const char*>(memmem(b, left, kCrlfCrlf, 4));
    if (!hit) {
      if (left > limits_.maxHeaderBytes) return fail(513, "Message Too Large (headers)");
      break;
    }
    const size_t end = size_t(hit - b);
    if (end > limits_.maxHeaderBytes) return fail(513, "Message Too Large (headers)");
    const char* reason = nullptr;
    const int64_t bodyLen = sipContentLength(b, end, &reason);
    if (bodyLen < 0) return fail(400, reason);
    if (uint64_t(bodyLen) > limits_.maxBodyBytes) return fail(513, "Message Too Large (body)");
    const size_t total = end + 4 + size_t(bodyLen);
    if (left < total) {
      need_ = total;
      break;
    }
    need_ = 0;
    SipFrameEvent ev(SipFrameKind::Message);
    ev.data = b;
    ev.size = total;
    sink(ev);
    at += total;
  }
  return at;
}

}  // namespace mra
