// STUN codec and TURN credentials against RFC 5769's test vectors (bytes from the RFC), and round trips.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "turn/stun_message.hpp"
#include "turn/turn_credentials.hpp"
#include "turn/turn_peer_policy.hpp"

using namespace mra;
using namespace mra::turn;

namespace {

// RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and
// FINGERPRINT (short-term password "VOkJxbRl1RmTxUk/WvJxBt"; padding is 0x20 in this vector).
const std::vector<uint8_t> kRfc5769Request = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f,
    0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

// RFC 5769 §2.2: the IPv4 Binding response (XOR-MAPPED-ADDRESS 192.0.2.1:32853).
const std::vector<uint8_t> kRfc5769Response = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91,
    0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

// RFC 5769 §2.4: a request with long-term credentials: USERNAME "マトリックス", password "TheMatrIX" (after
// SASLprep), REALM "example.org", NONCE "f//499k954d6OL34oL9FSTvy64sA".
const std::vector<uint8_t> kRfc5769LongTerm = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda,
    0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39,
    0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
    0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66};

const uint8_t* bytes(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

}  // namespace

TEST_CASE("RFC 5769 sample request: parsed, integrity and fingerprint verified", "[stun]") {
  StunView v;
  REQUIRE(v.parse(kRfc5769Request.data(), kRfc5769Request.size()) == StunView::Problem::None);
  CHECK(v.method() == method::Binding);
  CHECK(v.cls() == StunClass::Request);
  CHECK(v.text(attr::Username) == "evtj:h6vY");
  CHECK(v.text(attr::Software) == "STUN test client");
  CHECK(v.hasFingerprint());
  const char* password = "VOkJxbRl1RmTxUk/WvJxBt";
  CHECK(v.checkIntegrity(bytes(password), std::strlen(password)));
  CHECK_FALSE(v.checkIntegrity(bytes("wrong"), 5));
  uint16_t unknown[4];
  CHECK(v.unknownRequired(unknown, 4) == 1);  // PRIORITY (0x0024, ICE) is not a TURN server's
  CHECK(unknown[0] == 0x0024);
}

TEST_CASE("RFC 5769 sample IPv4 response: XOR-MAPPED-ADDRESS decoded", "[stun]") {
  StunView v;
  REQUIRE(v.parse(kRfc5769Response.data(), kRfc5769Response.size()) == StunView::Problem::None);
  CHECK(v.cls() == StunClass::Success);
  Endpoint e;
  uint8_t family = 0;
  REQUIRE(v.xorAddress(attr::XorMappedAddress, e, family));
  CHECK(family == 1);
  CHECK(e.ip == 0xC0000201u);
  CHECK(e.port == 32853);
  const char* password = "VOkJxbRl1RmTxUk/WvJxBt";
  CHECK(v.checkIntegrity(bytes(password), std::strlen(password)));
}

TEST_CASE("RFC 5769 long-term credentials: the MD5 key verifies the sample", "[stun][turn]") {
  StunView v;
  REQUIRE(v.parse(kRfc5769LongTerm.data(), kRfc5769LongTerm.size()) == StunView::Problem::None);
  const auto key = longTermKey(v.text(attr::Username), v.text(attr::Realm), "TheMatrIX", PasswordAlgorithm::Md5);
  CHECK(key.size() == 16);
  CHECK(v.checkIntegrity(key.data(), key.size()));
  const auto wrong = longTermKey(v.text(attr::Username), v.text(attr::Realm), "TheMatrix", PasswordAlgorithm::Md5);
  CHECK_FALSE(v.checkIntegrity(wrong.data(), wrong.size()));
}

TEST_CASE("a built message round-trips with both integrities and a fingerprint", "[stun]") {
  uint8_t buf[512];
  StunBuilder b(buf, sizeof buf);
  const TransactionId tid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  b.start(method::Allocate, StunClass::Success, tid);
  b.addXorAddress(attr::XorRelayedAddress, Endpoint{0x7F000001, 40000});
  b.addU32(attr::Lifetime, 600);
  b.addError(486, "Allocation Quota Reached");
  const uint8_t key[16] = {9};
  b.addIntegrity(key, sizeof key);
  b.addIntegritySha256(key, sizeof key);
  b.addFingerprint();
  REQUIRE(b.ok());
  StunView v;
  REQUIRE(v.parse(buf, b.size()) == StunView::Problem::None);
  CHECK(v.method() == method::Allocate);
  CHECK(v.cls() == StunClass::Success);
  CHECK(v.transaction() == tid);
  Endpoint e;
  uint8_t family;
  REQUIRE(v.xorAddress(attr::XorRelayedAddress, e, family));
  CHECK(e == Endpoint{0x7F000001, 40000});
  uint32_t lifetime = 0;
  CHECK(v.u32(attr::Lifetime, lifetime));
  CHECK(lifetime == 600);
  CHECK(v.checkIntegrity(key, sizeof key));
  CHECK(v.checkIntegritySha256(key, sizeof key));
  buf[30] ^= 1;  // any bit of the message breaks integrity and fingerprint
  CHECK(v.parse(buf, b.size()) == StunView::Problem::BadFingerprint);
}

TEST_CASE("malformed STUN is refused by kind, never read past its end", "[stun]") {
  std::vector<uint8_t> m = kRfc5769Request;
  StunView v;
  CHECK(v.parse(m.data(), 19) == StunView::Problem::TooShort);
  CHECK(v.parse(m.data(), m.size() - 4) == StunView::Problem::BadLength);  // length field says more
  m[4] = 0;
  CHECK(v.parse(m.data(), m.size()) == StunView::Problem::BadCookie);
  m = kRfc5769Request;
  m[23] = 0xFF;  // SOFTWARE claims 255 bytes
  CHECK(v.parse(m.data(), m.size()) == StunView::Problem::BadAttribute);
  m = kRfc5769Request;
  m[0] = 0x80;
  CHECK(v.parse(m.data(), m.size()) == StunView::Problem::NotStun);
  // A stream may carry the next message after this one; a datagram may not.
  m = kRfc5769Request;
  m.push_back(0);
  m.push_back(0);
  m.push_back(0);
  m.push_back(0);
  CHECK(v.parse(m.data(), m.size(), true) == StunView::Problem::BadLength);
  CHECK(v.parse(m.data(), m.size(), false) == StunView::Problem::None);
}

TEST_CASE("every byte string of up to 64 bytes parses or is refused without a crash", "[stun]") {
  // A cheap fuzz: random lengths and contents, with a valid header often enough to reach the attribute walk.
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  uint8_t buf[64];
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    const size_t n = next() % sizeof buf;
    for (size_t k = 0; k < n; ++k) buf[k] = uint8_t(next() >> 24);
    if (n >= 20 && (i & 1)) {
      buf[0] &= 0x3F;
      buf[2] = 0, buf[3] = uint8_t((n - 20) & ~3u);
      buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
    }
    StunView v;
    if (v.parse(buf, n, false) == StunView::Problem::None) ++accepted;
  }
  CHECK(accepted > 0);
}

TEST_CASE("REST usernames: <expiry>:<user>", "[turn]") {
  RestUsername r = parseRestUsername("1700000000:alice");
  CHECK(r.wellFormed);
  CHECK(r.expires == 1700000000u);
  CHECK(r.user == "alice");
  CHECK(parseRestUsername("1700000000:alice:x").user == "alice:x");
  CHECK_FALSE(parseRestUsername("alice").wellFormed);
  CHECK_FALSE(parseRestUsername(":alice").wellFormed);
  CHECK_FALSE(parseRestUsername("17000x0000:alice").wellFormed);
  CHECK_FALSE(parseRestUsername("1700000000:").wellFormed);
}

TEST_CASE("nonces: valid until they expire, bound to the client's address, unforgeable", "[turn]") {
  NonceMint mint(600);
  const std::string n = mint.make(0x0A000001, 1000);
  CHECK(n.rfind("obMatJos2AAAB", 0) == 0);
  CHECK(mint.check(n, 0x0A000001, 1000) == NonceMint::Verdict::Valid);
  CHECK(mint.check(n, 0x0A000001, 1599) == NonceMint::Verdict::Valid);
  CHECK(mint.check(n, 0x0A000001, 1600) == NonceMint::Verdict::Stale);
  CHECK(mint.check(n, 0x0A000002, 1000) == NonceMint::Verdict::Stale);
  std::string forged = n;
  forged[20] = forged[20] == '0' ? '1' : '0';  // a later expiry, same MAC
  CHECK(mint.check(forged, 0x0A000001, 1000) == NonceMint::Verdict::Stale);
  CHECK(NonceMint(600).check(n, 0x0A000001, 1000) == NonceMint::Verdict::Stale);  // another server's key
}

TEST_CASE("peer address blocks", "[turn]") {
  PeerPolicy p;
  p.deny(parseCidr("10.0.0.0/8"));
  p.deny(parseCidr("127.0.0.0/8"));
  p.allow(parseCidr("10.1.2.3"));
  CHECK_FALSE(p.permitted(0x0A000005));
  CHECK(p.permitted(0x0A010203));
  CHECK_FALSE(p.permitted(0x7F000001));
  CHECK(p.permitted(0xC0000201));
  CHECK(parseCidr("0.0.0.0/0").contains(0xFFFFFFFF));
  CHECK_THROWS_AS(parseCidr("10.0.0.0/33"), std::invalid_argument);
  CHECK_THROWS_AS(parseCidr("ten/8"), std::invalid_argument);
}
