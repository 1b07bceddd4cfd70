// The engine's kernel path (docs/media.md, "Two paths"): a BPF program on every interface's tcx ingress hook
// forwards the streams the engine has installed in its flow table, without user space. This class loads and
// attaches it, installs and removes flows, and lets any thread read a flow's counters from shared memory.
// Everything it puts in the kernel is held by file descriptors (links, maps, program): when the engine closes
// them, or the process dies, nothing stays behind. Never throws: a kernel path that cannot run says why.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "latch.hpp"

struct media_forward;  // the libbpf skeleton (generated from native/bpf/media_forward.bpf.c)

namespace mra {

struct KernelPathConfig {
  bool enabled = true;
  uint32_t slots = 4096;  // flows at most (two per relay at most)
  uint32_t bindIp = 0;    // the engine's bind address, host order (0: any)
};

// One installed stream: packets from `source` to our `localPort`, sent on from `from` to `to` via `ifindex`.
struct KernelFlow {
  Endpoint source;
  uint16_t localPort = 0;
  uint32_t ssrc = 0;
  Endpoint from, to;
  int ifindex = 0;
};

// What the program counted for a flow since it was installed, and where its sequence numbers are.
struct KernelCounts {
  uint64_t packets = 0, bytes = 0, lastNs = 0;
  uint32_t cycles = 0;
  uint16_t maxSeq = 0;
};

class KernelPath {
 public:
  // Loads and attaches when it can; otherwise active() is false and reason() says why (once, at start).
  explicit KernelPath(const KernelPathConfig& cfg);
  ~KernelPath();
  KernelPath(const KernelPath&) = delete;
  KernelPath& operator=(const KernelPath&) = delete;

  bool active() const { return active_; }
  const std::string& reason() const { return reason_; }
  uint32_t slots() const { return slotCount_; }
  std::vector<std::string> interfaces() const;
  // A route's device the program can send out of (Ethernet or loopback, in this namespace).
  bool canSendVia(int ifindex) const;

  // Worker threads. `install` seeds the slot (counts zero, the sequence where user space has it) and then adds
  // or replaces the flow; false when the kernel refused (the table is full).
  bool install(const KernelFlow& flow, uint32_t slot, uint32_t cycles, uint16_t maxSeq);
  void remove(const KernelFlow& flow);
  // Any thread: a torn read of one counter is impossible (aligned 64-bit loads); the set is read field by field.
  KernelCounts read(uint32_t slot) const;
  // Attaches to interfaces that appeared since the last scan and forgets those that went away.
  void rescan();

 private:
  struct Attachment {
    int ifindex;
    std::string name;
    int link;
  };
  bool load();
  void attachAll(bool first);

  KernelPathConfig cfg_;
  bool active_ = false;
  std::string reason_;
  ::media_forward* skel_ = nullptr;
  int flowsFd_ = -1;
  void* slotsMem_ = nullptr;
  size_t slotsLen_ = 0;
  uint32_t slotCount_ = 0;
  mutable std::mutex mutex_;  // attachments_: rescans and readers
  std::vector<Attachment> attachments_;
};

// CLOCK_MONOTONIC in nanoseconds, the clock bpf_ktime_get_ns() reads.
uint64_t monotonicNs();

}  // namespace mra
