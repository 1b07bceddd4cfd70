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

// Where one SSRC's RTP stands in the SRTP packet index (RFC 3711 §3.3.1): its rollover counter and highest sequence
// number. A relay rebuilt elsewhere (another core adopting a call) starts from these instead of ROC 0, or past the
// first 65,536 packets of a call it would fail authentication both ways.
struct SrtpIndex {
  uint32_t ssrc = 0;
  uint32_t roc = 0;
  uint16_t seq = 0;
};

// RFC 3711 §3.3.1 (Appendix A): the ROC of a packet with `seq`, given the stream's highest `roc`/`highest` so far.
uint32_t estimateRoc(uint32_t roc, uint16_t highest, uint16_t seq);

class SrtpSession {
 public:
  enum class Direction { Inbound, Outbound };

  // Throws std::invalid_argument on a bad key length, std::runtime_error when libsrtp refuses. `resume`: SSRCs whose
  // RTP continues from where another session left them (their first packet's ROC is estimated from there).
  SrtpSession(const SrtpSuiteInfo& suite, const uint8_t* keySalt, size_t length, Direction direction,
              const std::vector<SrtpIndex>& resume = {});
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // In place; `capacity` is the buffer size so protect can append its tag and SRTCP index.
  SrtpResult protectRtp(uint8_t* buf, size_t& len, size_t capacity);
  SrtpResult protectRtcp(uint8_t* buf, size_t& len, size_t capacity);
  SrtpResult unprotectRtp(uint8_t* buf, size_t& len);
  SrtpResult unprotectRtcp(uint8_t* buf, size_t& len);

  const SrtpSuiteInfo& suite() const { return suite_; }

  // Where each SSRC's RTP this session protected or unprotected stands (the few most recent SSRCs). Only on the
  // thread that runs the session (the worker): the engine asks it there.
  std::vector<SrtpIndex> indices() const;

 private:
  // Before a packet: an SSRC resumed from another session gets the ROC its first packet belongs to.
  void resumeFor(const uint8_t* buf, size_t len);
  // After a packet passed: the SSRC's index moves on (as libsrtp's own estimate does).
  void track(const uint8_t* buf, size_t len);

  struct Tracked {
    SrtpIndex at;
    bool pending = false;  // resumed, and libsrtp not yet told its ROC
  };
  // A relay leg carries one SSRC at a time (a few across re-INVITEs): a short list, the newest at the back.
  static constexpr size_t kMaxTracked = 8;
  std::vector<Tracked> tracked_;
  size_t pending_ = 0;
  const SrtpSuiteInfo& suite_;
  srtp_ctx_t_* ctx_ = nullptr;
};

}  // namespace mra
