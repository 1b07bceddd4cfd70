// The kernel path of the media engine (docs/media.md, "Two paths"): a tcx ingress program that forwards a
// latched RTP stream which needs nothing but new addresses and ports, without user space. It matches a packet
// by (source address, source port, our port) in mra_flows, checks that it is RTP of the flow's SSRC whose
// sequence number follows on, counts it in the flow's slot, rewrites the IP and UDP headers as the peer leg's
// socket would send it (checksums updated incrementally, TTL as a fresh packet's) and redirects it out of the
// route's device. Everything else -- RTCP, keepalives, another SSRC, a restarted sequence, an invalid header,
// a source that is not the latched one -- continues up the stack (TCX_NEXT) to the engine's sockets.
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "media_forward.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define IP_OFF ETH_HLEN
#define UDP_OFF (ETH_HLEN + 20)
#define RTP_OFF (UDP_OFF + 8)

// Sized by the engine before loading (bpf_map__set_max_entries).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct mra_flow_key);
  __type(value, struct mra_flow);
} mra_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct mra_slot);
} mra_slots SEC(".maps");

struct headers {
  struct ethhdr eth;
  struct iphdr ip;
  struct udphdr udp;
  __u8 rtp[12];
} __attribute__((packed));

// RFC 3550 A.1 as the engine's RtpSequence: 0 when the packet is counted, -1 when the sequence restarted
// (user space starts a new count).
static __always_inline int follow_sequence(struct mra_slot *slot, __u16 seq) {
  __u16 max = slot->max_seq;
  __u16 ahead = seq - max;
  if (ahead < MRA_MAX_DROPOUT) {
    if (seq < max) slot->cycles += 65536;
    slot->max_seq = seq;
    return 0;
  }
  if (ahead <= (__u16)(65536 - MRA_MAX_MISORDER)) return -1;
  return 0;  // a duplicate or a late packet: received, the highest unchanged
}

// The header checks of the engine's classifyPacket for RTP (CSRC and extension lengths within the packet).
static __always_inline int valid_rtp(struct __sk_buff *skb, const __u8 *rtp, __u32 len) {
  if (len < 12 || len > MRA_MAX_PACKET || (rtp[0] >> 6) != 2) return 0;
  if (rtp[1] >= 192 && rtp[1] <= 223) return 0;  // RTCP (RFC 5761): user space
  __u32 header = 12 + (__u32)(rtp[0] & 0x0f) * 4;
  if (header > len) return 0;
  if (rtp[0] & 0x10) {
    if (header + 4 > len) return 0;
    __u8 ext[4];
    if (bpf_skb_load_bytes(skb, RTP_OFF + (header & 0x7f), ext, sizeof ext)) return 0;
    header += 4 + (((__u32)ext[2] << 8) | ext[3]) * 4;
    if (header > len) return 0;
  }
  return 1;
}

SEC("tc")
int mra_forward(struct __sk_buff *skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP)) return TCX_NEXT;
  struct headers h;
  if (bpf_skb_load_bytes(skb, 0, &h, sizeof h)) return TCX_NEXT;
  if (h.ip.ihl != 5 || h.ip.version != 4 || h.ip.protocol != IPPROTO_UDP) return TCX_NEXT;
  if (h.ip.frag_off & bpf_htons(IP_MF | IP_OFFSET)) return TCX_NEXT;
  struct mra_flow_key key = {.saddr = h.ip.saddr, .sport = h.udp.source, .dport = h.udp.dest};
  struct mra_flow *flow = bpf_map_lookup_elem(&mra_flows, &key);
  if (!flow) return TCX_NEXT;
  if (flow->local_addr && flow->local_addr != h.ip.daddr) return TCX_NEXT;
  const __u32 udpLen = bpf_ntohs(h.udp.len);
  if (udpLen < 8 || udpLen + 20 > bpf_ntohs(h.ip.tot_len) || skb->len < ETH_HLEN + 20 + udpLen) return TCX_NEXT;
  const __u32 len = udpLen - 8;
  if (!valid_rtp(skb, h.rtp, len)) return TCX_NEXT;
  __be32 ssrc;
  __builtin_memcpy(&ssrc, h.rtp + 8, 4);
  if (ssrc != flow->ssrc) return TCX_NEXT;
  __u32 slotIndex = flow->slot;
  struct mra_slot *slot = bpf_map_lookup_elem(&mra_slots, &slotIndex);
  if (!slot) return TCX_NEXT;
  if (follow_sequence(slot, ((__u16)h.rtp[2] << 8) | h.rtp[3]) < 0) return TCX_NEXT;
  __sync_fetch_and_add(&slot->packets, 1);
  __sync_fetch_and_add(&slot->bytes, len);
  slot->last_ns = bpf_ktime_get_ns();

  // Addresses: the UDP checksum covers them through the pseudo-header, the IP checksum directly.
  __be32 oldAddr[2] = {h.ip.saddr, h.ip.daddr}, newAddr[2] = {flow->new_saddr, flow->new_daddr};
  __s64 addrDiff = bpf_csum_diff(oldAddr, sizeof oldAddr, newAddr, sizeof newAddr, 0);
  __be32 oldPorts = ((__u32)h.udp.dest << 16) | h.udp.source;
  __be32 newPorts = ((__u32)flow->new_dport << 16) | flow->new_sport;
  __u16 oldTtl = bpf_htons(((__u16)h.ip.ttl << 8) | h.ip.protocol);
  __u16 newTtl = bpf_htons(((__u16)MRA_TTL << 8) | h.ip.protocol);
  const __u32 udpCheck = UDP_OFF + offsetof(struct udphdr, check);
  const __u32 ipCheck = IP_OFF + offsetof(struct iphdr, check);
  bpf_l4_csum_replace(skb, udpCheck, 0, addrDiff, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
  bpf_l4_csum_replace(skb, udpCheck, oldPorts, newPorts, BPF_F_MARK_MANGLED_0 | 4);
  bpf_l3_csum_replace(skb, ipCheck, 0, addrDiff, 0);
  bpf_l3_csum_replace(skb, ipCheck, oldTtl, newTtl, 2);
  bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, saddr), newAddr, sizeof newAddr, 0);
  struct {
    __be16 source, dest;
  } ports = {flow->new_sport, flow->new_dport};
  bpf_skb_store_bytes(skb, UDP_OFF, &ports, sizeof ports, 0);
  __u8 ttl = MRA_TTL;
  bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, ttl), &ttl, 1, 0);
  return bpf_redirect_neigh(flow->ifindex, NULL, 0, 0);
}
