// The receiving half of kgen.c (bench/media, kernel rows): a tcx ingress program on the generator's own link
// that counts what the relay under test forwarded -- per stream by SSRC, and its latency from the send time in
// the RTP timestamp (µs, CLOCK_MONOTONIC) -- and drops it there, so receiving costs the generator's core no
// socket and no copy. Packets stamped before the trial began (an earlier trial's, still queued) are not counted.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sink.h"

char LICENSE[] SEC("license") = "GPL";

#define TCX_NEXT -1
#define TCX_DROP 2

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sink_config);
} sink_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, SINK_MAX_STREAMS);
  __type(key, __u32);
  __type(value, __u64);
} sink_streams SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, SINK_HIST_US);
  __type(key, __u32);
  __type(value, __u32);
} sink_hist SEC(".maps");

struct frame {
  struct ethhdr eth;
  struct iphdr ip;
  struct udphdr udp;
  __u8 rtp[12];
} __attribute__((packed));

SEC("tc")
int sink(struct __sk_buff *skb) {
  __u32 zero = 0;
  struct sink_config *cfg = bpf_map_lookup_elem(&sink_cfg, &zero);
  struct frame f;
  if (!cfg || bpf_skb_load_bytes(skb, 0, &f, sizeof f)) return TCX_NEXT;
  if (f.eth.h_proto != bpf_htons(ETH_P_IP) || f.ip.protocol != IPPROTO_UDP || f.ip.ihl != 5) return TCX_NEXT;
  __u16 port = bpf_ntohs(f.udp.dest);
  if (f.ip.daddr != cfg->addr || port < cfg->port_lo || port > cfg->port_hi) return TCX_NEXT;
  __u32 ssrc = ((__u32)f.rtp[8] << 24) | ((__u32)f.rtp[9] << 16) | ((__u32)f.rtp[10] << 8) | f.rtp[11];
  __u32 stamp = ((__u32)f.rtp[4] << 24) | ((__u32)f.rtp[5] << 16) | ((__u32)f.rtp[6] << 8) | f.rtp[7];
  __u32 index = ssrc - cfg->ssrc_base;
  if (index >= cfg->streams) {
    __sync_fetch_and_add(&cfg->foreign, 1);
    return TCX_DROP;
  }
  if ((__s32)(stamp - cfg->start_us) < 0) {
    __sync_fetch_and_add(&cfg->stale, 1);
    return TCX_DROP;
  }
  __u64 *count = bpf_map_lookup_elem(&sink_streams, &index);
  if (count) __sync_fetch_and_add(count, 1);
  __u32 latency = (__u32)(bpf_ktime_get_ns() / 1000) - stamp;
  if (latency >= SINK_HIST_US) latency = SINK_HIST_US - 1;
  __u32 *bucket = bpf_map_lookup_elem(&sink_hist, &latency);
  if (bucket) __sync_fetch_and_add(bucket, 1);
  return TCX_DROP;
}

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct charge_config);
} charge SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SINK_MAX_CPUS);
  __type(key, __u32);
  __type(value, __u64);
} softirq_start SEC(".maps");

#define NET_RX_SOFTIRQ 3

// Raw tracepoints (no tracefs needed, which a network namespace's /sys lacks): args[0] is the softirq vector.
SEC("raw_tracepoint/softirq_entry")
int softirq_entry(struct bpf_raw_tracepoint_args *ctx) {
  if (ctx->args[0] != NET_RX_SOFTIRQ) return 0;
  __u32 zero = 0, cpu = bpf_get_smp_processor_id();
  struct charge_config *c = bpf_map_lookup_elem(&charge, &zero);
  if (!c || cpu != c->cpu) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  for (int i = 0; i < SINK_EXCLUDE; i++)
    if (c->exclude[i] && c->exclude[i] == tgid) return 0;
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&softirq_start, &cpu, &now, BPF_ANY);
  return 0;
}

SEC("raw_tracepoint/softirq_exit")
int softirq_exit(struct bpf_raw_tracepoint_args *ctx) {
  if (ctx->args[0] != NET_RX_SOFTIRQ) return 0;
  __u32 zero = 0, cpu = bpf_get_smp_processor_id();
  __u64 *start = bpf_map_lookup_elem(&softirq_start, &cpu);
  struct charge_config *c = bpf_map_lookup_elem(&charge, &zero);
  if (!start || !*start || !c) return 0;
  __sync_fetch_and_add(&c->netrx_ns, bpf_ktime_get_ns() - *start);
  *start = 0;
  return 0;
}
