// Counters written by exactly one worker thread and read by the control thread: a relaxed load+store is
// enough (no read-modify-write, so no lock prefix on the packet path), and readers never see torn values.
#pragma once
#include <atomic>
#include <cstdint>

namespace mra {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // For a figure the writer computes (a total it keeps elsewhere) rather than counts.
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Why a packet was not forwarded. One list so stats, events and docs name them the same way.
#define MRA_DROP_REASONS(X) \
  X(invalid)                \
  X(auth)                   \
  X(replay)                 \
  X(foreign)                \
  X(noRemote)               \
  X(protect)                \
  X(send)

struct DropCounters {
#define MRA_DECLARE_DROP(name) Counter name;
  MRA_DROP_REASONS(MRA_DECLARE_DROP)
#undef MRA_DECLARE_DROP
};

struct TrafficCounters {
  Counter packetsIn, bytesIn, packetsOut, bytesOut, rtcpIn, rtcpOut;
  // The RTCP share of bytesIn and bytesOut, so RTP and RTCP volumes can be told apart (the ng protocol's query).
  Counter rtcpBytesIn, rtcpBytesOut;
  // RTP received on this leg (RtpSequence): packets the sequence numbers say were sent, and those never received.
  Counter rtpExpected, rtpLost;
  // 0-byte keepalive datagrams (RFC 6263 §4.1), received and sent; never forwarded.
  Counter keepalivesIn, keepalivesOut;
  DropCounters drops;
};

}  // namespace mra
