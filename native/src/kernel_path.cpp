#include "kernel_path.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>

#ifdef MRA_HAVE_KERNEL_PATH
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "media_forward.h"
#include "media_forward.skel.h"
#endif

namespace mra {

uint64_t monotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

#ifndef MRA_HAVE_KERNEL_PATH

#ifndef MRA_KERNEL_PATH_BUILD
#define MRA_KERNEL_PATH_BUILD "built without the BPF toolchain"
#endif

KernelPath::KernelPath(const KernelPathConfig& cfg) : cfg_(cfg) {
  reason_ = cfg.enabled ? "this build has no kernel path (" MRA_KERNEL_PATH_BUILD ")" : "turned off by configuration";
}
KernelPath::~KernelPath() = default;
std::vector<std::string> KernelPath::interfaces() const { return {}; }
bool KernelPath::canSendVia(int) const { return false; }
bool KernelPath::install(const KernelFlow&, uint32_t, uint32_t, uint16_t) { return false; }
void KernelPath::remove(const KernelFlow&) {}
KernelCounts KernelPath::read(uint32_t) const { return {}; }
void KernelPath::rescan() {}
bool KernelPath::load() { return false; }
void KernelPath::attachAll(bool) {}

#else

namespace {

constexpr int kTcxIngress = 46;  // BPF_TCX_INGRESS (Linux 6.6); Debian 12's uapi headers predate it

// libbpf's messages (a refused program's verifier log) are kept, not printed: the reason quotes the last one.
thread_local std::string libbpfLast;
int keepLibbpfMessage(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  std::string text(line, size_t(std::max(0, std::min(n, int(sizeof line) - 1))));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) libbpfLast = text;
  return 0;
}

// ARPHRD_* of an interface, or -1. Only Ethernet-like devices and loopback carry the 14-byte link header the
// program expects in front of the IP header.
int linkType(const char* name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ifreq req{};
  std::strncpy(req.ifr_name, name, IFNAMSIZ - 1);
  const int type = ::ioctl(fd, SIOCGIFHWADDR, &req) == 0 ? req.ifr_hwaddr.sa_family : -1;
  ::close(fd);
  return type;
}

bool carriesEthernet(const char* name) {
  const int type = linkType(name);
  return type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK;
}

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

KernelPath::KernelPath(const KernelPathConfig& cfg) : cfg_(cfg) {
  if (!cfg.enabled) {
    reason_ = "turned off by configuration";
    return;
  }
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    reason_ = "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
    return;
  }
  if (!load()) return;
  attachAll(true);
  active_ = !attachments_.empty();
  if (active_) return;
  ::munmap(slotsMem_, slotsLen_);
  slotsMem_ = nullptr;
  media_forward__destroy(skel_);
  skel_ = nullptr;
}

KernelPath::~KernelPath() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Attachment& a : attachments_) ::close(a.link);
  attachments_.clear();
  if (slotsMem_) ::munmap(slotsMem_, slotsLen_);
  if (skel_) media_forward__destroy(skel_);
}

bool KernelPath::load() {
  libbpf_set_print(keepLibbpfMessage);
  libbpfLast.clear();
  skel_ = media_forward__open();
  if (!skel_) {
    reason_ = "cannot open the BPF object: " + errnoText(errno);
    return false;
  }
  slotCount_ = std::max<uint32_t>(cfg_.slots, 16);
  bpf_map__set_max_entries(skel_->maps.mra_flows, slotCount_);
  bpf_map__set_max_entries(skel_->maps.mra_slots, slotCount_);
  const int err = media_forward__load(skel_);
  if (err) {
    const int e = -err;
    reason_ = e == EPERM || e == EACCES
                  ? "not permitted to load BPF (needs root, or CAP_BPF and CAP_NET_ADMIN)"
                  : "the kernel refused the program: " + errnoText(e) + (libbpfLast.empty() ? "" : " (" + libbpfLast + ")");
    media_forward__destroy(skel_);
    skel_ = nullptr;
    return false;
  }
  flowsFd_ = bpf_map__fd(skel_->maps.mra_flows);
  const long page = ::sysconf(_SC_PAGESIZE);
  slotsLen_ = (size_t(slotCount_) * sizeof(mra_slot) + size_t(page) - 1) / size_t(page) * size_t(page);
  void* mem = ::mmap(nullptr, slotsLen_, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(skel_->maps.mra_slots), 0);
  if (mem == MAP_FAILED) {
    reason_ = "cannot map the counters: " + errnoText(errno);
    media_forward__destroy(skel_);
    skel_ = nullptr;
    return false;
  }
  slotsMem_ = mem;
  return true;
}

void KernelPath::attachAll(bool first) {
  if (!skel_) return;
  const int prog = bpf_program__fd(skel_->progs.mra_forward);
  struct if_nameindex* list = ::if_nameindex();
  if (!list) {
    if (first) reason_ = "cannot list the network interfaces: " + errnoText(errno);
    return;
  }
  std::vector<int> present;
  std::string firstError;
  for (struct if_nameindex* i = list; i->if_index != 0; ++i) {
    const int ifindex = int(i->if_index);
    present.push_back(ifindex);
    const bool known = std::any_of(attachments_.begin(), attachments_.end(), [&](const Attachment& a) { return a.ifindex == ifindex; });
    if (known || !carriesEthernet(i->if_name)) continue;
    const int link = bpf_link_create(prog, ifindex, bpf_attach_type(kTcxIngress), nullptr);
    if (link < 0) {
      const int e = errno;
      if (firstError.empty())
        firstError = e == EINVAL ? "the kernel has no tcx hook (needs Linux 6.6 or later)"
                     : e == EPERM ? "not permitted to attach BPF (needs CAP_NET_ADMIN)"
                                  : std::string("cannot attach to ") + i->if_name + ": " + errnoText(e);
      continue;
    }
    attachments_.push_back(Attachment{ifindex, i->if_name, link});
  }
  ::if_freenameindex(list);
  // An interface that went away took its attachment with it: close the link that pointed at it.
  for (auto it = attachments_.begin(); it != attachments_.end();) {
    if (std::find(present.begin(), present.end(), it->ifindex) != present.end()) { ++it; continue; }
    ::close(it->link);
    it = attachments_.erase(it);
  }
  if (first && attachments_.empty()) reason_ = firstError.empty() ? "no Ethernet or loopback interface to attach to" : firstError;
}

void KernelPath::rescan() {
  if (!active_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  attachAll(false);
}

std::vector<std::string> KernelPath::interfaces() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> names;
  for (const Attachment& a : attachments_) names.push_back(a.name);
  return names;
}

bool KernelPath::canSendVia(int ifindex) const {
  char name[IF_NAMESIZE];
  return ifindex > 0 && ::if_indextoname(unsigned(ifindex), name) && carriesEthernet(name);
}

bool KernelPath::install(const KernelFlow& f, uint32_t slot, uint32_t cycles, uint16_t maxSeq) {
  if (!active_ || slot >= slotCount_) return false;
  auto* s = static_cast<mra_slot*>(slotsMem_) + slot;
  __atomic_store_n(&s->packets, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&s->bytes, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&s->last_ns, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&s->cycles, cycles, __ATOMIC_RELAXED);
  __atomic_store_n(&s->max_seq, maxSeq, __ATOMIC_RELEASE);
  mra_flow_key key{htonl(f.source.ip), htons(f.source.port), htons(f.localPort)};
  mra_flow value{};
  value.slot = slot;
  value.ssrc = htonl(f.ssrc);
  value.local_addr = htonl(cfg_.bindIp);
  value.new_saddr = htonl(f.from.ip);
  value.new_daddr = htonl(f.to.ip);
  value.new_sport = htons(f.from.port);
  value.new_dport = htons(f.to.port);
  value.ifindex = uint32_t(f.ifindex);
  return bpf_map_update_elem(flowsFd_, &key, &value, BPF_ANY) == 0;
}

void KernelPath::remove(const KernelFlow& f) {
  if (!active_) return;
  mra_flow_key key{htonl(f.source.ip), htons(f.source.port), htons(f.localPort)};
  bpf_map_delete_elem(flowsFd_, &key);
}

KernelCounts KernelPath::read(uint32_t slot) const {
  KernelCounts c;
  if (!active_ || slot >= slotCount_) return c;
  const auto* s = static_cast<const mra_slot*>(slotsMem_) + slot;
  c.packets = __atomic_load_n(&s->packets, __ATOMIC_ACQUIRE);
  c.bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
  c.lastNs = __atomic_load_n(&s->last_ns, __ATOMIC_RELAXED);
  c.cycles = __atomic_load_n(&s->cycles, __ATOMIC_RELAXED);
  c.maxSeq = __atomic_load_n(&s->max_seq, __ATOMIC_RELAXED);
  return c;
}

#endif

}  // namespace mra
