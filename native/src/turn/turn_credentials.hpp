// Long-term credentials for the TURN server (RFC 8489 §9.2) with passwords derived from a shared secret, as
// coturn's `use-auth-secret` and the TURN REST API draft do: USERNAME is "<expiry unix time>:<user>" and the
// password is base64(HMAC-SHA1(secret, USERNAME)). The edge holds the secret only, never a user's password:
// core (which knows who its users are) mints the credentials and hands them to clients (docs/turn.md).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "turn/stun_message.hpp"

namespace mra::turn {

enum class PasswordAlgorithm : uint16_t { Md5 = 0x0001, Sha256 = 0x0002 };

// "<expiry>:<user>": the user is what quotas count by (a client renewing its credentials stays the same user).
struct RestUsername {
  bool wellFormed = false;
  uint64_t expires = 0;  // unix seconds
  std::string_view user;
};
RestUsername parseRestUsername(std::string_view username, char separator = ':');

std::string restPassword(std::string_view secret, std::string_view username);
std::string base64(const uint8_t* data, size_t length);

// MD5 (16 bytes) or SHA-256 (32 bytes) of "username:realm:password" (RFC 8489 §9.2.2).
std::vector<uint8_t> longTermKey(std::string_view username, std::string_view realm, std::string_view password,
                                 PasswordAlgorithm algorithm);

// Stateless nonces: "obMatJos2" + the security features (password algorithms, RFC 8489 §9.2.1 with erratum 6290:
// bit 0 is the rightmost) + expiry + a MAC over expiry and the client's address under a key made at start. Nothing
// is stored per nonce, so a flood of unauthenticated requests costs no memory.
class NonceMint {
 public:
  explicit NonceMint(uint32_t lifetimeS);
  std::string make(uint32_t clientIp, uint64_t nowS) const;
  enum class Verdict { Valid, Stale };
  Verdict check(std::string_view nonce, uint32_t clientIp, uint64_t nowS) const;
  uint32_t lifetime() const { return lifetimeS_; }

 private:
  std::string mac(uint64_t expires, uint32_t clientIp) const;

  uint32_t lifetimeS_;
  std::array<uint8_t, 32> key_{};
};

// PASSWORD-ALGORITHMS as this server sends it: MD5 then SHA-256, no parameters.
extern const std::array<uint8_t, 8> kPasswordAlgorithms;

struct AuthOutcome {
  // Challenge: no integrity at all (the first request of every client): 401 with REALM and NONCE, not a failure.
  enum Kind { Ok, Challenge, BadRequest, Unauthenticated, StaleNonce } kind = Challenge;
  const char* reason = "";  // for BadRequest and Unauthenticated: what was wrong, for the reason phrase
  std::vector<uint8_t> key;
  bool sha256Integrity = false;  // answer with MESSAGE-INTEGRITY-SHA256 (the request used it)
  std::string username;
  std::string user;
};

class Authenticator {
 public:
  Authenticator(std::string realm, std::vector<std::string> secrets, uint32_t nonceLifetimeS);
  AuthOutcome check(const StunView& request, uint32_t clientIp, uint64_t nowS) const;
  std::string nonce(uint32_t clientIp, uint64_t nowS) const { return nonces_.make(clientIp, nowS); }
  const std::string& realm() const { return realm_; }

 private:
  std::string realm_;
  std::vector<std::string> secrets_;
  NonceMint nonces_;
};

}  // namespace mra::turn
