#include "turn/turn_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mra::turn {

namespace {

constexpr std::string_view kCookie = "obMatJos2";
// 24 security feature bits, base64: 0x000001, "Password algorithms" (bit 0, the rightmost: erratum 6290).
constexpr std::string_view kFeatures = "AAAB";

std::string hex(const uint8_t* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) out[2 * i] = digits[p[i] >> 4], out[2 * i + 1] = digits[p[i] & 15];
  return out;
}

bool parseHex64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 16) return false;
  out = 0;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    out = (out << 4) | uint64_t(v);
  }
  return true;
}

}  // namespace

const std::array<uint8_t, 8> kPasswordAlgorithms = {0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00};

RestUsername parseRestUsername(std::string_view username, char separator) {
  RestUsername out;
  const size_t sep = username.find(separator);
  if (sep == 0 || sep == std::string_view::npos || sep > 12 || sep + 1 == username.size()) return out;
  uint64_t expires = 0;
  for (size_t i = 0; i < sep; ++i) {
    if (username[i] < '0' || username[i] > '9') return out;
    expires = expires * 10 + uint64_t(username[i] - '0');
  }
  out.wellFormed = true;
  out.expires = expires;
  out.user = username.substr(sep + 1);
  return out;
}

std::string base64(const uint8_t* data, size_t length) {
  std::string out(4 * ((length + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(length));
  out.resize(size_t(n));
  return out;
}

std::string restPassword(std::string_view secret, std::string_view username) {
  uint8_t mac[20];
  unsigned int n = 0;
  HMAC(EVP_sha1(), secret.data(), int(secret.size()), reinterpret_cast<const uint8_t*>(username.data()), username.size(),
       mac, &n);
  return base64(mac, n);
}

std::vector<uint8_t> longTermKey(std::string_view username, std::string_view realm, std::string_view password,
                                 PasswordAlgorithm algorithm) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  std::vector<uint8_t> key(algorithm == PasswordAlgorithm::Sha256 ? 32 : 16);
  unsigned int n = 0;
  EVP_Digest(input.data(), input.size(), key.data(), &n, algorithm == PasswordAlgorithm::Sha256 ? EVP_sha256() : EVP_md5(),
             nullptr);
  return key;
}

NonceMint::NonceMint(uint32_t lifetimeS) : lifetimeS_(lifetimeS) {
  if (RAND_bytes(key_.data(), int(key_.size())) != 1) throw std::runtime_error("no randomness for the TURN nonce key");
}

std::string NonceMint::mac(uint64_t expires, uint32_t clientIp) const {
  uint8_t input[12], out[32];
  for (int i = 0; i < 8; ++i) input[i] = uint8_t(expires >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) input[8 + i] = uint8_t(clientIp >> (24 - 8 * i));
  unsigned int n = 0;
  HMAC(EVP_sha256(), key_.data(), int(key_.size()), input, sizeof input, out, &n);
  return hex(out, 8);
}

std::string NonceMint::make(uint32_t clientIp, uint64_t nowS) const {
  const uint64_t expires = nowS + lifetimeS_;
  char stamp[17];
  std::snprintf(stamp, sizeof stamp, "%08llx", static_cast<unsigned long long>(expires));
  return std::string(kCookie) + std::string(kFeatures) + stamp + mac(expires, clientIp);
}

NonceMint::Verdict NonceMint::check(std::string_view nonce, uint32_t clientIp, uint64_t nowS) const {
  // A nonce we did not make (another server's, a forged one, a client's from another address) is as good as an
  // expired one: 438 hands the client a fresh one (RFC 8489 §9.2.4).
  const size_t head = kCookie.size() + kFeatures.size();
  if (nonce.size() != head + 8 + 16 || nonce.substr(0, kCookie.size()) != kCookie) return Verdict::Stale;
  uint64_t expires = 0;
  if (!parseHex64(nonce.substr(head, 8), expires)) return Verdict::Stale;
  const std::string want = mac(expires, clientIp);
  if (CRYPTO_memcmp(want.data(), nonce.data() + head + 8, 16) != 0) return Verdict::Stale;
  return expires > nowS ? Verdict::Valid : Verdict::Stale;
}

Authenticator::Authenticator(std::string realm, std::vector<std::string> secrets, uint32_t nonceLifetimeS)
    : realm_(std::move(realm)), secrets_(std::move(secrets)), nonces_(nonceLifetimeS) {}

AuthOutcome Authenticator::check(const StunView& req, uint32_t clientIp, uint64_t nowS) const {
  AuthOutcome out;
  const bool sha256 = req.find(attr::MessageIntegritySha256) != nullptr;
  if (!sha256 && !req.find(attr::MessageIntegrity)) return out;  // Challenge
  const std::string_view username = req.text(attr::Username);
  const std::string_view realm = req.text(attr::Realm);
  const std::string_view nonce = req.text(attr::Nonce);
  if (!req.find(attr::Username) || !req.find(attr::Realm) || !req.find(attr::Nonce)) {
    out.kind = AuthOutcome::BadRequest;
    out.reason = "USERNAME, REALM and NONCE must come with MESSAGE-INTEGRITY";
    return out;
  }
  // RFC 8489 §9.2.4: our nonces offer password algorithms, so either both algorithm attributes come, the list as
  // we sent it and a choice from it, or neither (MD5).
  PasswordAlgorithm algorithm = PasswordAlgorithm::Md5;
  const AttributeRef* list = req.find(attr::PasswordAlgorithms);
  const AttributeRef* chosen = req.find(attr::PasswordAlgorithm);
  if (list || chosen) {
    const bool listMatches = list && list->length == kPasswordAlgorithms.size() &&
                             std::memcmp(req.data() + list->offset, kPasswordAlgorithms.data(), kPasswordAlgorithms.size()) == 0;
    uint16_t value = 0;
    if (chosen && chosen->length == 4) {
      const uint8_t* v = req.data() + chosen->offset;
      value = (v[2] | v[3]) ? 0 : uint16_t((v[0] << 8) | v[1]);  // no parameters for MD5 or SHA-256
    }
    if (!listMatches || (value != uint16_t(PasswordAlgorithm::Md5) && value != uint16_t(PasswordAlgorithm::Sha256))) {
      out.kind = AuthOutcome::BadRequest;
      out.reason = "PASSWORD-ALGORITHMS must be as sent and PASSWORD-ALGORITHM one of them";
      return out;
    }
    algorithm = PasswordAlgorithm(value);
  }
  const RestUsername rest = parseRestUsername(username);
  out.kind = AuthOutcome::Unauthenticated;
  if (realm != realm_) {
    out.reason = "unknown realm";
    return out;
  }
  if (!rest.wellFormed) {
    out.reason = "USERNAME is not <expiry>:<user>";
    return out;
  }
  if (rest.expires <= nowS) {
    out.reason = "credentials expired";
    return out;
  }
  for (const std::string& secret : secrets_) {
    std::vector<uint8_t> key = longTermKey(username, realm, restPassword(secret, username), algorithm);
    const bool match = sha256 ? req.checkIntegritySha256(key.data(), key.size()) : req.checkIntegrity(key.data(), key.size());
    if (!match) continue;
    out.key = std::move(key);
    out.sha256Integrity = sha256;
    out.username = std::string(username);
    out.user = std::string(rest.user);
    out.kind = nonces_.check(nonce, clientIp, nowS) == NonceMint::Verdict::Valid ? AuthOutcome::Ok : AuthOutcome::StaleNonce;
    out.reason = "";
    return out;
  }
  out.reason = "integrity check failed";
  return out;
}

}  // namespace mra::turn
