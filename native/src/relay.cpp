#include "relay.hpp"

#include <thread>

namespace mra {

Endpoint Leg::rtcpDestination() const {
  if (config.rtcpMux) return rtpLatch.destination();
  if (rtcpLatch.latched() || rtcpLatch.destination().valid()) return rtcpLatch.destination();
  // No RTCP heard and none signalled: RFC 3550's convention, RTP port + 1 of wherever RTP goes.
  Endpoint rtp = rtpLatch.destination();
  if (rtp.valid()) rtp.port = uint16_t(rtp.port + 1);
  return rtp;
}

namespace {

void readCounters(const TrafficCounters& c, LegSnapshot& out) {
  out.packetsIn = c.packetsIn.get(), out.bytesIn = c.bytesIn.get(), out.packetsOut = c.packetsOut.get();
  out.bytesOut = c.bytesOut.get(), out.rtcpIn = c.rtcpIn.get(), out.rtcpOut = c.rtcpOut.get();
  out.rtcpBytesIn = c.rtcpBytesIn.get(), out.rtcpBytesOut = c.rtcpBytesOut.get();
  out.rtpExpected = c.rtpExpected.get(), out.rtpLost = c.rtpLost.get();
  out.keepalivesIn = c.keepalivesIn.get(), out.keepalivesOut = c.keepalivesOut.get();
#define MRA_READ_DROP(name) out.drops.name = c.drops.name.get();
  MRA_DROP_REASONS(MRA_READ_DROP)
#undef MRA_READ_DROP
}

}  // namespace

std::array<LegSnapshot, 2> snapshotRelay(const Relay& relay, const KernelPath* kernel) {
  std::array<LegSnapshot, 2> out;
  for (;;) {
    const uint32_t before = relay.kernelVersion.load(std::memory_order_acquire);
    if (before & 1) {
      std::this_thread::yield();
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      out[i] = LegSnapshot{};
      readCounters(relay.legs[i].counters, out[i]);
    }
    for (int i = 0; i < 2; ++i) {
      const KernelLeg& k = relay.legs[i].kernel;
      const int64_t slot = k.liveSlot.load(std::memory_order_relaxed);
      if (slot < 0 || !kernel) continue;
      // Counted by the kernel since the worker's last fold: received on this leg, sent by its peer.
      const KernelCounts c = kernel->read(uint32_t(slot));
      const uint64_t packets = c.packets - k.foldedPackets.load(std::memory_order_relaxed);
      const uint64_t bytes = c.bytes - k.foldedBytes.load(std::memory_order_relaxed);
      out[i].kernel = true;
      out[i].packetsIn += packets, out[i].bytesIn += bytes;
      out[i ^ 1].packetsOut += packets, out[i ^ 1].bytesOut += bytes;
      // RFC 3550 A.3 on top of the last fold: the kernel counts only RTP of the count it continues, so what it
      // received is `packets`, and the highest sequence number it saw extends what was expected.
      const uint64_t now = uint64_t(c.cycles) + c.maxSeq, folded = k.foldedExtendedMax.load(std::memory_order_relaxed);
      const uint64_t more = now > folded ? now - folded : 0;
      out[i].rtpExpected += more;
      out[i].rtpLost = out[i].rtpLost + more > packets ? out[i].rtpLost + more - packets : 0;
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (relay.kernelVersion.load(std::memory_order_relaxed) == before) return out;
  }
}

}  // namespace mra
