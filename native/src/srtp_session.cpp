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

uint32_t estimateRoc(uint32_t roc, uint16_t highest, uint16_t seq) {
  if (highest < 32768) {
    // A packet from just before the wrap the stream already made (never below ROC 0).
    if (int(seq) - int(highest) > 32768) return roc > 0 ? roc - 1 : 0;
    return roc;
  }
  if (int(highest) - 32768 > int(seq)) return roc + 1;
  return roc;
}

namespace {

uint32_t ssrcOf(const uint8_t* buf) { return uint32_t(buf[8]) << 24 | uint32_t(buf[9]) << 16 | uint32_t(buf[10]) << 8 | buf[11]; }
uint16_t seqOf(const uint8_t* buf) { return uint16_t(uint16_t(buf[2]) << 8 | buf[3]); }
uint64_t indexOf(const SrtpIndex& i) { return uint64_t(i.roc) << 16 | i.seq; }

}  // namespace

SrtpSession::SrtpSession(const SrtpSuiteInfo& suite, const uint8_t* keySalt, size_t length, Direction direction,
                         const std::vector<SrtpIndex>& resume)
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
  // A resumed SSRC gets its own stream now, so that its ROC can be set before its first packet (libsrtp makes the
  // streams of ssrc_any only as packets pass, too late to be told).
  for (const SrtpIndex& r : resume) {
    if (tracked_.size() == kMaxTracked) break;
    srtp_policy_t own = policy;
    own.ssrc.type = ssrc_specific;
    own.ssrc.value = r.ssrc;
    own.next = nullptr;
    const srtp_err_status_t added = srtp_add_stream(ctx_, &own);
    if (added != srtp_err_status_ok) {
      srtp_dealloc(ctx_);
      ctx_ = nullptr;
      throw std::runtime_error("libsrtp cannot resume SSRC " + std::to_string(r.ssrc) + " (status " + std::to_string(added) + ")");
    }
    tracked_.push_back(Tracked{r, true});
    ++pending_;
  }
}

std::vector<SrtpIndex> SrtpSession::indices() const {
  std::vector<SrtpIndex> out;
  out.reserve(tracked_.size());
  for (const Tracked& t : tracked_) out.push_back(t.at);
  return out;
}

void SrtpSession::resumeFor(const uint8_t* buf, size_t len) {
  if (len < 12) return;
  const uint32_t ssrc = ssrcOf(buf);
  for (Tracked& t : tracked_) {
    if (!t.pending || t.at.ssrc != ssrc) continue;
    const uint32_t roc = estimateRoc(t.at.roc, t.at.seq, seqOf(buf));
    // ROC 0 is where a new stream starts anyway (and libsrtp reads a pending ROC of 0 as none).
    if (roc != 0) srtp_set_stream_roc(ctx_, ssrc, roc);
    return;
  }
}

void SrtpSession::track(const uint8_t* buf, size_t len) {
  if (len < 12) return;
  const uint32_t ssrc = ssrcOf(buf);
  const uint16_t seq = seqOf(buf);
  for (size_t i = 0; i < tracked_.size(); ++i) {
    Tracked& t = tracked_[i];
    if (t.at.ssrc != ssrc) continue;
    const SrtpIndex next{ssrc, estimateRoc(t.at.roc, t.at.seq, seq), seq};
    if (t.pending) {
      // The first packet since the resume passed: libsrtp now runs the stream at that index.
      t.pending = false;
      --pending_;
      t.at = next;
    } else if (indexOf(next) > indexOf(t.at)) {
      t.at = next;
    }
    return;
  }
  // A new SSRC: libsrtp starts it at ROC 0 and this sequence number.
  if (tracked_.size() == kMaxTracked) {
    if (tracked_.front().pending) --pending_;
    tracked_.erase(tracked_.begin());
  }
  tracked_.push_back(Tracked{SrtpIndex{ssrc, 0, seq}, false});
}

SrtpSession::~SrtpSession() {
  if (ctx_) srtp_dealloc(ctx_);
}

SrtpResult SrtpSession::protectRtp(uint8_t* buf, size_t& len, size_t capacity) {
  if (len + SRTP_MAX_TRAILER_LEN > capacity) return SrtpResult::Error;
  if (pending_) resumeFor(buf, len);
  int n = int(len);
  const SrtpResult r = toResult(srtp_protect(ctx_, buf, &n));
  if (r == SrtpResult::Ok) {
    track(buf, len);
    len = size_t(n);
  }
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
  if (pending_) resumeFor(buf, len);
  int n = int(len);
  const SrtpResult r = toResult(srtp_unprotect(ctx_, buf, &n));
  if (r == SrtpResult::Ok) {
    track(buf, size_t(n));
    len = size_t(n);
  }
  return r;
}

SrtpResult SrtpSession::unprotectRtcp(uint8_t* buf, size_t& len) {
  int n = int(len);
  const SrtpResult r = toResult(srtp_unprotect_rtcp(ctx_, buf, &n));
  if (r == SrtpResult::Ok) len = size_t(n);
  return r;
}

}  // namespace mra
