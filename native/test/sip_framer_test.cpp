// The native framer must behave exactly as src/sip/framing.ts: same events, same statuses and reasons.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sip_tls/sip_framer.hpp"

using namespace mra;

namespace {

struct Seen {
  std::vector<std::string> messages;
  int pings = 0, pongs = 0, status = 0;
  std::string reason;
};

void feed(SipFramer& f, const std::string& chunk, Seen& seen) {
  f.push(chunk.data(), chunk.size(), [&](const SipFrameEvent& e) {
    switch (e.kind) {
      case SipFrameKind::Message: seen.messages.emplace_back(e.data, e.size); break;
      case SipFrameKind::Ping: ++seen.pings; break;
      case SipFrameKind::Pong: ++seen.pongs; break;
      case SipFrameKind::Error: seen.status = e.status, seen.reason = e.reason; break;
    }
  });
}

Seen frame(const std::string& stream, SipFramerLimits limits = {}) {
  SipFramer f(limits);
  Seen seen;
  feed(f, stream, seen);
  return seen;
}

const std::string kRegister = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS a;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello";
const std::string kOptions = "OPTIONS sip:example.com SIP/2.0\r\nl:0\r\n\r\n";

}  // namespace

TEST_CASE("whole messages are framed by Content-Length, several per chunk", "[sip-framer]") {
  Seen s = frame(kRegister + kOptions);
  REQUIRE(s.messages.size() == 2);
  CHECK(s.messages[0] == kRegister);
  CHECK(s.messages[1] == kOptions);
  CHECK(s.status == 0);
}

TEST_CASE("a stream split at every byte boundary gives the same messages", "[sip-framer]") {
  const std::string stream = kRegister + "\r\n\r\n" + kOptions;
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    for (size_t cut2 = cut; cut2 <= stream.size(); cut2 += 7) {
      SipFramer f;
      Seen s;
      feed(f, stream.substr(0, cut), s);
      feed(f, stream.substr(cut, cut2 - cut), s);
      feed(f, stream.substr(cut2), s);
      INFO("cut at " << cut << " and " << cut2);
      REQUIRE(s.messages.size() == 2);
      CHECK(s.messages[0] == kRegister);
      CHECK(s.messages[1] == kOptions);
      CHECK(f.buffered() == 0);
    }
  }
  // One byte at a time.
  SipFramer f;
  Seen s;
  for (char c : stream) feed(f, std::string(1, c), s);
  REQUIRE(s.messages.size() == 2);
  CHECK(s.messages[1] == kOptions);
}

TEST_CASE("keepalives: CRLFCRLF is a ping, a lone CRLF a pong", "[sip-framer]") {
  Seen s = frame("\r\n\r\n" + kOptions + "\r\n" + kOptions + "\r\n\r\n");
  CHECK(s.pings == 2);
  CHECK(s.pongs == 1);
  CHECK(s.messages.size() == 2);
  // A CRLF followed by a lone CR waits for what comes next.
  SipFramer f;
  Seen w;
  feed(f, "\r\n\r", w);
  CHECK(w.pings + w.pongs == 0);
  CHECK(f.buffered() == 3);
  feed(f, "\n", w);
  CHECK(w.pings == 1);
  CHECK(f.buffered() == 0);
}

TEST_CASE("header names are case-insensitive, compact l, SP/HTAB around the value", "[sip-framer]") {
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nCONTENT-LENGTH: 2\r\n\r\nok").messages.size() == 1);
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nL : 2\r\n\r\nok").messages.size() == 1);
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\ncontent-length\t:\t 2 \t\r\n\r\nok").messages.size() == 1);
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nContent-Length: 0002\r\n\r\nok").messages[0].size() == 49);
  // Other headers starting with l are not Content-Length.
  Seen s = frame("MESSAGE sip:a SIP/2.0\r\nLocation: x\r\nl: 0\r\n\r\n");
  CHECK(s.messages.size() == 1);
  // As the JS regex's multiline ^, a bare CR also starts a line.
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nfoo\rl: 0\r\n\r\n").messages.at(0).size() == 35);
}

TEST_CASE("unframeable streams are errors with the JS framer's status and reason", "[sip-framer]") {
  Seen s = frame("MESSAGE sip:a SIP/2.0\r\nVia: x\r\n\r\n");
  CHECK(s.status == 400);
  CHECK(s.reason == "Missing Content-Length on a stream transport");
  s = frame("MESSAGE sip:a SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n");
  CHECK(s.status == 400);
  CHECK(s.reason == "Multiple Content-Length header fields");
  for (const char* bad : {"x", "", "1 2", "-1", "12345678901", "0x10", "1.0"}) {
    INFO(bad);
    s = frame(std::string("MESSAGE sip:a SIP/2.0\r\nContent-Length: ") + bad + "\r\n\r\n");
    CHECK(s.status == 400);
    CHECK(s.reason == "Malformed Content-Length");
  }
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nContent-Length: 9999999999\r\n\r\n").reason == "Message Too Large (body)");
}

TEST_CASE("size limits: headers without an end, headers too long, body too long", "[sip-framer]") {
  SipFramerLimits limits{64, 10};
  Seen s = frame(std::string(65, 'a'), limits);
  CHECK(s.status == 513);
  CHECK(s.reason == "Message Too Large (headers)");
  CHECK(frame(std::string(64, 'a'), limits).status == 0);  // at the limit: still waiting
  s = frame("MESSAGE sip:a SIP/2.0\r\nX: " + std::string(40, 'x') + "\r\nl: 0\r\n\r\n", limits);
  CHECK(s.reason == "Message Too Large (headers)");
  s = frame("MESSAGE sip:a SIP/2.0\r\nl: 11\r\n\r\n", limits);
  CHECK(s.status == 513);
  CHECK(s.reason == "Message Too Large (body)");
  CHECK(frame("MESSAGE sip:a SIP/2.0\r\nl: 10\r\n\r\n0123456789", limits).messages.size() == 1);
}

TEST_CASE("after an error the framer reports nothing more", "[sip-framer]") {
  SipFramer f;
  Seen s;
  feed(f, "BAD\r\n\r\n", s);
  CHECK(s.status == 400);
  CHECK(f.failed());
  feed(f, kOptions, s);
  CHECK(s.messages.empty());
  CHECK(f.buffered() == 0);
}
