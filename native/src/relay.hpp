// A relay joins two legs (A and B). Each leg has its RTP/RTCP sockets (its own pair, or a mux pair shared
// with other calls), where it sends (latched or signalled), and its SRTP transforms. Only the owning worker
// thread touches a leg after creation; the control thread reads the counters.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "counters.hpp"
#include "kernel_path.hpp"
#include "latch.hpp"
#include "rtp_sequence.hpp"
#include "srtp_session.hpp"

namespace mra {

class MuxDemux;
struct Relay;

// What an epoll event points at: one socket, and who reads from it.
struct SocketRef {
  int fd = -1;
  bool rtcp = false;         // the RFC 3550 RTCP port (rtcp-mux packets arrive on the RTP socket)
  struct Leg* leg = nullptr;  // a leg's own socket
  MuxDemux* mux = nullptr;    // or a shared traversal mux socket
};

struct LegConfig {
  bool mux = false;       // use the worker's mux pair instead of an own pair
  int muxPair = -1;       // which mux pair (-1: engine picks)
  bool rtcpMux = false;   // RFC 5761: RTCP on the RTP port
  bool latch = true;      // learn the remote from validated packets (external legs behind NAT)
  Endpoint remoteRtp, remoteRtcp;
  bool haveSsrc = false;  // the SSRC signalled for this leg, if any (demux fallback, spoof check)
  uint32_t ssrc = 0;
  // RFC 6263 §4.1 keepalive: a 0-byte datagram to the remote whenever nothing was sent for this long (0: never).
  // Core's traversal legs use it to open, and keep open, the DMZ firewall's flow before and between media.
  uint32_t keepaliveMs = 0;
  // Open exactly this RTP/RTCP pair (an adopted call's, where its peers still send), on `bindIp` when set (host
  // order; the address a dead peer's keepalived moved here), instead of a pair from the pool. 0: from the pool.
  uint16_t port = 0;
  uint32_t bindIp = 0;
};

// The kernel path's state for the RTP a leg receives (docs/media.md, "Two paths"). The worker owns it; the
// atomics are what a stats reader on the control thread needs, under the relay's kernelVersion seqlock.
struct KernelLeg {
  bool installed = false;
  uint32_t slot = 0;
  KernelFlow flow;         // as installed
  bool sameSequence = false;  // the leg's RtpSequence is still the count the kernel continues
  uint64_t userRtp = 0;    // RTP from the current source forwarded in user space since the stream (re)started
  // Installed: the slot's counts already added to the leg's counters (and the peer's packetsOut/bytesOut).
  std::atomic<uint64_t> foldedPackets{0}, foldedBytes{0};
  // The extended highest sequence number (wraps + seq) the leg's count stood at after the last fold: a reader adds
  // how far the kernel's has moved on to rtpExpected, so loss figures are as live as the packet counts.
  std::atomic<uint64_t> foldedExtendedMax{0};
  std::atomic<int64_t> liveSlot{-1};  // the slot a reader adds on top of the counters, -1: none
};

struct Leg {
  Relay* relay = nullptr;
  uint8_t index = 0;  // 0 = A, 1 = B
  LegConfig config;
  uint16_t port = 0;  // RTP port (RTCP is port + 1)
  SocketRef rtpSocket, rtcpSocket;
  Latch rtpLatch, rtcpLatch;
  bool haveSsrc = false;
  uint32_t ssrc = 0;
  // Shared only to hand them from the control thread; the packet path never copies the pointers.
  std::shared_ptr<SrtpSession> srtpIn, srtpOut;  // unprotect what arrives / protect what leaves
  uint64_t lastReceiveMs = 0;
  uint64_t lastSendMs = 0;  // 0: nothing sent yet, so the first tick with a remote sends a keepalive at once
  bool timedOut = false;
  uint64_t authFailuresPending = 0;
  uint64_t lastAuthReportMs = 0;
  RtpSequence sequence;
  TrafficCounters counters;
  KernelLeg kernel;

  // Where RTP/RTCP for this leg goes; invalid endpoint when nothing is known yet.
  Endpoint rtpDestination() const { return rtpLatch.destination(); }
  Endpoint rtcpDestination() const;
  int rtcpSendFd() const { return config.rtcpMux ? rtpSocket.fd : rtcpSocket.fd; }
};

// An SDES key as signalled: the suite and its key||salt; `resume`: where its streams stood in another relay (an
// adopted call), used only when the key starts a new session. The same key is the same key wherever it resumes.
struct KeySpec {
  std::string suite;
  std::vector<uint8_t> keySalt;
  std::vector<SrtpIndex> resume;
  bool operator==(const KeySpec& o) const { return suite == o.suite && keySalt == o.keySalt; }
};

// Each direction's SRTP index of one leg (empty without SRTP that way).
struct LegSrtpIndices {
  std::vector<SrtpIndex> in, out;
};

struct Relay {
  std::string id;
  int worker = 0;
  uint32_t timeoutMs = 60000;
  std::array<Leg, 2> legs;
  // Odd while the worker folds kernel counts into the legs' counters: a reader retries (stats snapshot).
  std::atomic<uint32_t> kernelVersion{0};
  // The keys each leg was last given, read and written by the control thread only (under the engine's lock): a
  // setKeys that repeats a leg's key keeps its running session, so the SRTP index, the SRTCP index and the replay
  // window go on (RFC 3711 §3.2: one master key, one context). Re-keying them would restart the SRTCP index, and
  // the far end would drop what follows as replayed.
  std::array<std::optional<KeySpec>, 2> keyIn, keyOut;
  bool ownsPort(int leg) const { return !legs[leg].config.mux; }
};

// A leg's counters as the control plane reads them: what user space counted plus what the kernel has counted
// for its stream since the last fold, read consistently under the relay's kernelVersion.
struct LegSnapshot {
  uint64_t packetsIn = 0, bytesIn = 0, packetsOut = 0, bytesOut = 0, rtcpIn = 0, rtcpOut = 0;
  uint64_t rtcpBytesIn = 0, rtcpBytesOut = 0;
  uint64_t rtpExpected = 0, rtpLost = 0, keepalivesIn = 0, keepalivesOut = 0;
#define MRA_DECLARE_DROP_SNAPSHOT(name) uint64_t name = 0;
  struct {
    MRA_DROP_REASONS(MRA_DECLARE_DROP_SNAPSHOT)
  } drops;
#undef MRA_DECLARE_DROP_SNAPSHOT
  bool kernel = false;  // the RTP this leg receives is forwarded in the kernel now
};

std::array<LegSnapshot, 2> snapshotRelay(const Relay& relay, const KernelPath* kernel);

// What the packet path decided for one received packet (rtpengine's packet_handler_ctx, reduced).
struct Forward {
  int fd = -1;
  Endpoint to;
};

}  // namespace mra
