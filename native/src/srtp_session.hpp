// One direction of SRTP/SRTCP for one leg, over libsrtp. Suites are data rows (rtpengine's crypto_suite shape).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct srtp_ctx_t_;

namespace mra {

struct SrtpSuiteInfo {
  const char* name;       // RFC 4568 / RFC 7714 crypto-suite name as it appears in SDP
  size_t keySaltLength;   // master key || master salt, as carried in an SDES inline key
  size_t tagLength;       // RTP authentication tag (or AEAD tag) in bytes
  void (*setRtp)(void* policy);
  void (*setRtcp)(void* policy);
};

const SrtpSuiteInfo* findSrtpSuite(std::string_view name);
// Suites this libsrtp build can really set up (probed once at start-up).
std::vector<std::string> availableSrtpSuites();
// libsrtp version plus how it was built ("openssl, static" or the packaged fallback).
std::string srtpBackend();
void initSrtpLibrary();

enum class SrtpResult { Ok, AuthFail, ReplayFail, Error };

class SrtpSession {
 public:
  enum class Direction { Inbound, Outbound };

  // Throws std::invalid_argument on a bad key length, std::runtime_error when libsrtp refuses.
  SrtpSession(const SrtpSuiteInfo& suite, const uint8_t* keySalt, size_t length, Direction direction);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // In place; `capacity` is the buffer size so protect can append its tag and SRTCP index.
  SrtpResult protectRtp(uint8_t* buf, size_t& len, size_t capacity);
  SrtpResult protectRtcp(uint8_t* buf, size_t& len, size_t capacity);
  SrtpResult unprotectRtp(uint8_t* buf, size_t& len);
  SrtpResult unprotectRtcp(uint8_t* buf, size_t& len);

  const SrtpSuiteInfo& suite() const { return suite_; }

 private:
  const SrtpSuiteInfo& suite_;
  srtp_ctx_t_* ctx_ = nullptr;
};

}  // namespace mra
