#include "kernel_forwarding.hpp"

#include <algorithm>

namespace mra {

namespace {

constexpr uint64_t kQuarantineMs = 200;
constexpr uint64_t kRescanMs = 5000;

Leg& peerOf(Leg& leg) { return leg.relay->legs[leg.index ^ 1]; }

// The relay's seqlock around a change of what a stats reader adds up (docs in relay.hpp).
struct FoldSection {
  explicit FoldSection(Relay& r) : relay(r) {
    const uint32_t v = relay.kernelVersion.load(std::memory_order_relaxed);
    relay.kernelVersion.store(v + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  ~FoldSection() { relay.kernelVersion.store(relay.kernelVersion.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  Relay& relay;
};

}  // namespace

KernelForwarding::KernelForwarding(std::shared_ptr<KernelPath> path, uint32_t firstSlot, uint32_t slots,
                                   uint32_t afterPackets, uint32_t bindIp)
    : path_(std::move(path)), afterPackets_(std::max<uint32_t>(afterPackets, 1)), bindIp_(bindIp), rescans_(firstSlot == 0) {
  if (!active()) return;
  routes_ = std::make_unique<RouteLookup>();
  freeSlots_.reserve(slots);
  for (uint32_t i = slots; i > 0; --i) freeSlots_.push_back(firstSlot + i - 1);
}

void KernelForwarding::beforePacket(Leg& leg, uint64_t nowMs) {
  if (leg.kernel.installed) fold(leg, nowMs);
}

void KernelForwarding::afterPacket(const PacketContext& ctx, bool forwarded, uint64_t nowMs) {
  if (!active()) return;
  Leg& leg = *ctx.leg;
  if (ctx.latchMoved) {
    // A new source: its stream starts over in user space, and the peer's stream goes there now (unless the
    // client latched where its SDP said, where the peer's flow already sends).
    leg.kernel.userRtp = 0;
    const Endpoint now = leg.rtpLatch.destination();
    if (leg.kernel.installed && leg.kernel.flow.source != now) uninstall(leg, nowMs);
    Leg& peer = peerOf(leg);
    if (peer.kernel.installed && peer.kernel.flow.to != now) uninstall(peer, nowMs);
  } else if (ctx.sequenceRestarted) {
    // The count the kernel continued is closed (beforePacket folded it); a late fold must not touch the new one.
    leg.kernel.sameSequence = false;
    leg.kernel.userRtp = 0;
    uninstall(leg, nowMs);
  }
  if (ctx.rtp && leg.kernel.installed && leg.kernel.sameSequence) {
    // A packet queued before its flow went in and read by user space after: the leg's count has it now, so a
    // reader adds only the kernel's progress beyond it (else that progress counted twice in rtpExpected until the
    // next fold). processPacket set the counters just before, outside this section: a reader in between may see
    // the packet's own sequence step twice, for that instant.
    const uint64_t mine = uint64_t(leg.sequence.cycles()) + leg.sequence.maxSeq();
    if (mine > leg.kernel.foldedExtendedMax.load(std::memory_order_relaxed)) {
      FoldSection section(*leg.relay);
      leg.kernel.foldedExtendedMax.store(mine, std::memory_order_relaxed);
    }
  }
  if (!forwarded || !ctx.rtp || leg.kernel.installed) return;
  if (++leg.kernel.userRtp >= afterPackets_) install(leg, ctx.source, nowMs);
}

void KernelForwarding::install(Leg& leg, Endpoint source, uint64_t nowMs) {
  Leg& peer = peerOf(leg);
  // Only a stream that needs nothing but addresses: no key on either side of it.
  if (leg.srtpIn || peer.srtpOut) return;
  if (!leg.rtpLatch.settled() || leg.rtpLatch.destination() != source || !leg.sequence.started()) return;
  const Endpoint to = peer.rtpDestination();
  if (!to.valid()) return;
  auto retryLater = [&] {
    leg.kernel.userRtp = 0;
    counters_.refusals.add();
  };
  const std::optional<Route> route = routes_->lookup(to.ip, bindIp_);
  const uint32_t fromIp = bindIp_ ? bindIp_ : (route ? route->source : 0);
  if (!route || fromIp == 0 || !path_->canSendVia(route->ifindex) || freeSlots_.empty()) return retryLater();
  KernelFlow flow;
  flow.source = source;
  flow.localPort = leg.port;
  flow.ssrc = leg.sequence.ssrc();
  flow.from = Endpoint{fromIp, peer.port};
  flow.to = to;
  flow.ifindex = route->ifindex;
  const uint32_t slot = freeSlots_.back();
  if (!path_->install(flow, slot, leg.sequence.cycles(), leg.sequence.maxSeq())) return retryLater();
  freeSlots_.pop_back();
  leg.kernel.installed = true;
  leg.kernel.sameSequence = true;
  leg.kernel.slot = slot;
  leg.kernel.flow = flow;
  {
    FoldSection section(*leg.relay);
    leg.kernel.foldedPackets.store(0, std::memory_order_relaxed);
    leg.kernel.foldedBytes.store(0, std::memory_order_relaxed);
    leg.kernel.foldedExtendedMax.store(uint64_t(leg.sequence.cycles()) + leg.sequence.maxSeq(), std::memory_order_relaxed);
    leg.kernel.liveSlot.store(int64_t(slot), std::memory_order_relaxed);
  }
  counters_.installs.add();
  (void)nowMs;
}

void KernelForwarding::fold(Leg& leg, uint64_t nowMs) {
  const KernelCounts c = path_->read(leg.kernel.slot);
  const uint64_t packets = c.packets - leg.kernel.foldedPackets.load(std::memory_order_relaxed);
  if (packets == 0) return;
  const uint64_t bytes = c.bytes - leg.kernel.foldedBytes.load(std::memory_order_relaxed);
  Leg& peer = peerOf(leg);
  {
    FoldSection section(*leg.relay);
    leg.counters.packetsIn.add(packets);
    leg.counters.bytesIn.add(bytes);
    peer.counters.packetsOut.add(packets);
    peer.counters.bytesOut.add(bytes);
    leg.kernel.foldedPackets.store(c.packets, std::memory_order_relaxed);
    leg.kernel.foldedBytes.store(c.bytes, std::memory_order_relaxed);
    // In the same section, so a reader never adds the kernel's sequence progress to a count that already has it.
    if (leg.kernel.sameSequence) {
      leg.sequence.absorb(packets, c.cycles, c.maxSeq);
      leg.counters.rtpExpected.set(leg.sequence.expected());
      leg.counters.rtpLost.set(leg.sequence.lost());
      leg.kernel.foldedExtendedMax.store(uint64_t(leg.sequence.cycles()) + leg.sequence.maxSeq(), std::memory_order_relaxed);
    }
  }
  counters_.packets.add(packets);
  counters_.bytes.add(bytes);
  // The kernel's clock is CLOCK_MONOTONIC; the worker's coarse copy of it may lag by a tick of its own.
  const uint64_t heardMs = std::min(c.lastNs / 1000000, nowMs);
  leg.lastReceiveMs = std::max(leg.lastReceiveMs, heardMs);
  leg.timedOut = false;
  leg.rtpLatch.heard(heardMs);
  peer.lastSendMs = std::max(peer.lastSendMs, heardMs);
}

void KernelForwarding::uninstall(Leg& leg, uint64_t nowMs) {
  if (!leg.kernel.installed) return;
  path_->remove(leg.kernel.flow);
  fold(leg, nowMs);
  {
    FoldSection section(*leg.relay);
    leg.kernel.liveSlot.store(-1, std::memory_order_relaxed);
  }
  leg.kernel.installed = false;
  quarantine_.push_back(Quarantined{leg.kernel.slot, nowMs + kQuarantineMs});
  counters_.removals.add();
}

void KernelForwarding::reset(Relay& relay, int leg, bool restartCount, uint64_t nowMs) {
  if (!active()) return;
  for (Leg& l : relay.legs) uninstall(l, nowMs);
  if (restartCount) relay.legs[size_t(leg)].kernel.userRtp = 0;
}

void KernelForwarding::release(Relay& relay, uint64_t nowMs) {
  if (!active()) return;
  for (Leg& l : relay.legs) uninstall(l, nowMs);
}

void KernelForwarding::tick(Relay& relay, uint64_t nowMs) {
  if (!active()) return;
  for (Leg& l : relay.legs)
    if (l.kernel.installed) fold(l, nowMs);
}

void KernelForwarding::endTick(uint64_t nowMs) {
  // One worker looks for interfaces that appeared (a VLAN, a VPN's veth) and attaches to them too.
  if (rescans_ && nowMs - lastRescanMs_ >= kRescanMs) {
    lastRescanMs_ = nowMs;
    path_->rescan();
  }
  for (auto it = quarantine_.begin(); it != quarantine_.end();) {
    if (nowMs < it->untilMs) { ++it; continue; }
    freeSlots_.push_back(it->slot);
    it = quarantine_.erase(it);
  }
}

}  // namespace mra
