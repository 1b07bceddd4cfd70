#include "srtp_session.hpp"

#include <srtp2/srtp.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

#ifndef MRA_SRTP_BUILD
#define MRA_SRTP_BUILD "unknown build"
#endif

namespace mra {

namespace {

srtp_crypto_policy_t* P(void* p) { return static_cast<srtp_crypto_policy_t*>(p); }

// SRTCP keeps an 80-bit tag even for the _32 suites (RFC 4568 section 6.2.1).
const SrtpSuiteInfo kSuites[] = {
    {"AES_CM_128_HMAC_SHA1_80", 30, 10, [](void* p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(P(p)); }},
    {"AES_CM_128_HMAC_SHA1_32", 30, 4, [](void* p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(P(p)); }},
    {"AES_256_CM_HMAC_SHA1_80", 46, 10, [](void* p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(P(p)); }},
    {"AES_256_CM_HMAC_SHA1_32", 46, 4, [](void* p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(P(p)); }},
    {"AEAD_AES_128_GCM", 28, 16, [](void* p) { srtp_crypto_policy_set_aes_gcm_128_16_auth(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_gcm_128_16_auth(P(p)); }},
    {"AEAD_AES_256_GCM", 44, 16, [](void* p) { srtp_crypto_policy_set_aes_gcm_256_16_auth(P(p)); },
     [](void* p) { srtp_crypto_policy_set_aes_gcm_256_16_auth(P(p)); }},
};

SrtpResult toResult(srtp_err_status_t s) {
  switch (s) {
    case srtp_err_status_ok: return SrtpResult::Ok;
    case srtp_err_status_auth_fail: return SrtpResult::AuthFail;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return SrtpResult::ReplayFail;
    default: return SrtpResult::Error;
  }
}

}  // namespace

void initSrtpLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (srtp_init() != srtp_err_status_ok) throw std::runtime_error("srtp_init failed");
  });
}

const SrtpSuiteInfo* findSrtpSuite(std::string_view name) {
  for (const auto& s : kSuites)
    if (name == s.name) return &s;
  return nullptr;
}

std::vector<std::string> availableSrtpSuites() {
  initSrtpLibrary();
  std::vector<std::string> out;
  uint8_t key[64] = {1};
  for (const auto& s : kSuites) {
    try {
      SrtpSession probe(s, key, s.keySaltLength, SrtpSession::Direction::Outbound);
      out.emplace_back(s.name);
    } catch (const std::exception&) {
      // The build lacks this cipher (GCM needs an OpenSSL or NSS backend): simply not offered.
    }
  }
  return out;
}

std::string srtpBackend() { return std::string(srtp_get_version_string()) + " (" MRA_SRTP_BUILD ")"; }

SrtpSession::SrtpSession(const SrtpSuiteInfo& suite, const uint8_t* keySalt, size_t length, Direction direction)
    : suite_(suite) {
  if (length != suite.keySaltLength)
    throw std::invalid_argument(std::string(suite.name) + " needs " + std::to_string(suite.keySaltLength) +
                                " bytes of key||salt, got " + std::to_string(length));
  initSrtpLibrary();
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  suite.setRtp(&policy.rtp);
  suite.setRtcp(&policy.rtcp);
  policy.ssrc.type = direction == Direction::Inbound ? ssrc_any_inbound : ssrc_any_outbound;
  policy.key = const_cast<uint8_t*>(keySalt);
  // A relay sees reordering at high rates; a wider window than the default 128 keeps late packets.
  policy.window_size = 1024;
  // Upstream retransmissions of an RTP packet must still go out after RTP->SRTP.
  policy.allow_repeat_tx = 1;
  const srtp_err_status_t s = srtp_create(&ctx_, &policy);
  if (s != srtp_err_status_ok) {
    ctx_ = nullptr;
    throw std::runtime_error(std::string("libsrtp cannot set up ") + suite.name + " (status " + std::to_string(s) + ")");
  }
}

SrtpSession::~SrtpSession() {
  if (ctx_) srtp_dealloc(ctx_);
}

SrtpResult SrtpSession::protectRtp(uint8_t* buf, size_t& len, size_t capacity) {
  if (len + SRTP_MAX_TRAILER_LEN > capacity) return SrtpResult::Error;
  int n = int(len);
  const SrtpResult r = toResult(srtp_protect(ctx_, buf, &n));
  if (r == SrtpResult::Ok) len = size_t(n);
  return r;
}

SrtpResult SrtpSession::protectRtcp(uint8_t* buf, size_t& len, size_t capacity) {
  if (len + SRTP_MAX_TRAILER_LEN + 4 > capacity) return SrtpResult::Error;
  int n = int(len);
  const SrtpResult r = toResult(srtp_protect_rtcp(ctx_, buf, &n));
  if (r == SrtpResult::Ok) len = size_t(n);
  return r;
}

SrtpResult SrtpSession::unprotectRtp(uint8_t* buf, size_t& len) {
  int n = int(len);
  const SrtpResult r = toResult(srtp_unprotect(ctx_, buf, &n));
  if (r == SrtpResult::Ok) len = size_t(n);
  return r;
}

SrtpResult SrtpSession::unprotectRtcp(uint8_t* buf, size_t& len) {
  int n = int(len);
  const SrtpResult r = toResult(srtp_unprotect_rtcp(ctx_, buf, &n));
  if (r == SrtpResult::Ok) len = size_t(n);
  return r;
}

}  // namespace mra
