// One worker's share of the kernel path (docs/media.md, "Two paths"): decides when a stream it relays goes into
// the kernel and when it comes back, installs and removes its flows, and folds what the kernel counted into the
// legs' counters, sequence state, latches and timers, so the rest of the engine sees one stream whichever path
// carried its packets. Worker thread only, like the legs it touches.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "counters.hpp"
#include "kernel_path.hpp"
#include "packet_path.hpp"
#include "relay.hpp"
#include "route_lookup.hpp"

namespace mra {

struct KernelCounters {
  Counter installs, removals, refusals;
  // What the kernel forwarded for this worker's streams, as folded into the legs (at most a tick behind).
  Counter packets, bytes;
};

class KernelForwarding {
 public:
  // Slots [firstSlot, firstSlot + slots) of the shared table are this worker's.
  KernelForwarding(std::shared_ptr<KernelPath> path, uint32_t firstSlot, uint32_t slots, uint32_t afterPackets,
                   uint32_t bindIp);

  bool active() const { return path_ && path_->active(); }
  // Before the packet path handles a packet that reached user space: bring the leg up to date with the kernel.
  void beforePacket(Leg& leg, uint64_t nowMs);
  // After it: a moved latch or a restarted sequence takes the stream back; enough packets put it in the kernel.
  void afterPacket(const PacketContext& ctx, bool forwarded, uint64_t nowMs);
  // Keys or a remote changed: both directions come back to user space (and re-qualify from their next packet).
  void reset(Relay& relay, int leg, bool restartCount, uint64_t nowMs);
  // The relay goes away: its flows leave the kernel.
  void release(Relay& relay, uint64_t nowMs);
  // Every worker tick, before timeouts and keepalives are checked: fold every installed leg, free quiet slots.
  void tick(Relay& relay, uint64_t nowMs);
  void endTick(uint64_t nowMs);
  const KernelCounters& counters() const { return counters_; }

 private:
  void install(Leg& leg, Endpoint source, uint64_t nowMs);
  void uninstall(Leg& leg, uint64_t nowMs);
  void fold(Leg& leg, uint64_t nowMs);

  std::shared_ptr<KernelPath> path_;
  std::unique_ptr<RouteLookup> routes_;
  uint32_t afterPackets_;
  uint32_t bindIp_;
  bool rescans_;  // the first worker's job
  uint64_t lastRescanMs_ = 0;
  std::vector<uint32_t> freeSlots_;
  struct Quarantined {
    uint32_t slot;
    uint64_t untilMs;
  };
  // A removed flow's slot may still be counted by a packet the program was handling: reused only later.
  std::vector<Quarantined> quarantine_;
  KernelCounters counters_;
};

}  // namespace mra
