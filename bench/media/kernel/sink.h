// Shared by sink.bpf.c and kgen.c: what the sink counts and how the generator configures it.
#ifndef MRA_BENCH_SINK_H
#define MRA_BENCH_SINK_H
#include <linux/types.h>

#define SINK_MAX_STREAMS 20000
#define SINK_HIST_US 1000000  // 1 µs buckets up to 1 s; later arrivals land in the last bucket

struct sink_config {
  __be32 addr;          // the generator's address
  __u16 port_lo, port_hi;  // its receive ports
  __u32 ssrc_base, streams;
  __u32 start_us;       // the trial's first send time
  __u32 pad;
  __u64 foreign, stale;
};
// Softirq accounting (the relay's CPU): NET_RX softirq time on `cpu` that ran outside the relay's own threads
// (theirs is in their process CPU time already), from the irq:softirq_entry/exit tracepoints.
#define SINK_MAX_CPUS 64
#define SINK_EXCLUDE 4
struct charge_config {
  __u32 cpu;
  __u32 exclude[SINK_EXCLUDE];  // tgids whose context's softirq time is theirs (0: unused)
  __u32 pad;
  __u64 netrx_ns;  // accumulated
};
#endif
