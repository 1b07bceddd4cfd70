// What the engine and its BPF program (media_forward.bpf.c) share: the flow table's key and value, and the
// counters of one slot. Addresses and ports in network order, as in the packet, so the program compares and
// writes them without conversion.
#ifndef MRA_MEDIA_FORWARD_H
#define MRA_MEDIA_FORWARD_H

#ifndef __bpf__
#include <linux/types.h>
#endif

// A received RTP stream: who sends it (the leg's latched or demultiplexed source) to which of our ports.
struct mra_flow_key {
  __be32 saddr;
  __be16 sport;
  __be16 dport;
};

// Where it goes, as the peer leg's socket would send it, and which slot counts it.
struct mra_flow {
  __u32 slot;
  __be32 ssrc;        // the only SSRC forwarded: anything else goes to user space
  __be32 local_addr;  // the engine's bind address (0: any)
  __be32 new_saddr;   // the peer leg's source address (bind address, else the route's preferred source)
  __be32 new_daddr;   // the peer leg's destination (latched or signalled)
  __be16 new_sport;   // the peer leg's port (a mux pair's RTP port on a mux leg)
  __be16 new_dport;
  __u32 ifindex;      // the route's device towards new_daddr
  __u32 reserved;
};

// One flow's counters, in an mmap'able array the engine reads without a system call. The program writes
// packets and bytes atomically; the sequence state (RFC 3550 A.1, seeded from the engine's) is the program's.
struct mra_slot {
  __u64 packets;
  __u64 bytes;     // RTP bytes (UDP payload), as the engine counts them
  __u64 last_ns;   // bpf_ktime_get_ns() of the last packet forwarded (CLOCK_MONOTONIC)
  __u32 cycles;    // sequence wraps times 65536
  __u16 max_seq;   // highest sequence number seen
  __u16 reserved16;
  __u64 reserved[4];
};

#define MRA_MAX_DROPOUT 3000
#define MRA_MAX_MISORDER 100
#define MRA_MAX_PACKET 1600  // the engine's kMaxPacketSize: larger is invalid, left to user space to count
#define MRA_TTL 64

#endif
