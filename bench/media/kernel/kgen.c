// The load generator for bench/media's kernel rows: what loadgen.c does, made cheap enough per packet to push a
// relay that forwards in the kernel. It runs in its own network namespace, joined to the relay's by a veth pair,
// and speaks loadgen.c's line protocol (loadgen.ts drives both):
//   streams <file>   one stream per line: "<dest port>" on the relay's address
//   txkey none       accepted for the protocol (these rows send no SRTP the relay could read)
//   trailer <n>      bytes appended after the payload (10: an SRTP packet's shape, for pass-through rows)
//   charge <cpu> <pid>[,<pid>...]   the run answer's netRxNs: NET_RX softirq time on that cpu outside those
//                    processes' contexts (theirs is in their own CPU time), from sink.bpf.c's tracepoints
//   run <pps> <ms> <size> <verify>   one paced trial
// Sending: whole Ethernet frames (checksums updated incrementally per packet) through an AF_PACKET socket that
// bypasses the qdisc, in sendmmsg batches: no routing, no UDP socket. Receiving: sink.bpf.c on this side's
// ingress counts and drops what the relay forwards, so the generator's core pays no socket for it.
// Usage: kgen <sink.bpf.o> <ifname> <src ip> <dst ip> <dst mac> <rx port lo> <rx port hi>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/capacity/generator.h"
#include "sink.h"

#define BATCH 64
#define MAX_PACKET 1500
#define SSRC_BASE 0x10000000u
#define DRAIN_MS 300
#define TX_PORT 40000
#define HDR (14 + 20 + 8)
#define TCX_INGRESS 46

typedef struct {
  uint16_t port;
  uint16_t seq;
  uint32_t udpBase, ipBase;  // checksum sums of what does not change per packet
  uint8_t* frame;
} stream_t;

static stream_t streams[SINK_MAX_STREAMS];
static int streamCount, trailer, builtSize = -1;
static uint8_t* frames;
static int txSock;
static uint8_t srcMac[6], dstMac[6];
static uint32_t srcIp, dstIp;  // network order
static uint16_t ipId;
static struct sink_config* cfg;
static uint64_t* counts;
static uint32_t* hist;
static struct charge_config* charge;


static uint32_t sum16(const uint8_t* p, size_t len) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) s += (uint32_t)p[len - 1] << 8;
  return s;
}

static uint16_t fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

static void* mapOf(struct bpf_object* obj, const char* name, size_t len) {
  int fd = bpf_object__find_map_fd_by_name(obj, name);
  void* m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return m == MAP_FAILED ? NULL : m;
}

// Frames for every stream at this size: headers and payload written once, seq/stamp/id/checksums per packet.
static int buildFrames(int size) {
  const int len = HDR + size + trailer;
  if (len > MAX_PACKET + 14) return -1;
  free(frames);
  frames = calloc((size_t)streamCount, (size_t)len);
  if (!frames) return -1;
  for (int i = 0; i < streamCount; i++) {
    stream_t* s = &streams[i];
    uint8_t* f = s->frame = frames + (size_t)i * (size_t)len;
    memcpy(f, dstMac, 6);
    memcpy(f + 6, srcMac, 6);
    f[12] = 0x08, f[13] = 0x00;
    uint8_t* ip = f + 14;
    ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
    const uint16_t totLen = htons((uint16_t)(20 + 8 + size + trailer));
    memcpy(ip + 2, &totLen, 2);
    memcpy(ip + 12, &srcIp, 4);
    memcpy(ip + 16, &dstIp, 4);
    s->ipBase = sum16(ip, 20);  // id and checksum zero here
    uint8_t* udp = ip + 20;
    const uint16_t sport = htons(TX_PORT), dport = htons(s->port), udpLen = htons((uint16_t)(8 + size + trailer));
    memcpy(udp, &sport, 2);
    memcpy(udp + 2, &dport, 2);
    memcpy(udp + 4, &udpLen, 2);
    uint8_t* rtp = udp + 8;
    rtp[0] = 0x80, rtp[1] = 0;  // PCMU
    const uint32_t ssrc = htonl(SSRC_BASE + (uint32_t)i);
    memcpy(rtp + 8, &ssrc, 4);
    memset(rtp + 12, 0xD5, (size_t)size - 12);  // G.711 silence
    memset(rtp + size, 0xA5, (size_t)trailer);
    // Pseudo-header + UDP header + payload with seq and stamp zero.
    s->udpBase = sum16(ip + 12, 8) + 17 + (uint32_t)(8 + size + trailer) + sum16(udp, (size_t)(8 + size + trailer));
  }
  builtSize = size;
  return 0;
}

static void stamp(stream_t* s, uint32_t us) {
  uint8_t* ip = s->frame + 14;
  uint8_t* rtp = ip + 28;
  const uint16_t id = ipId++, seq = s->seq++;
  const uint16_t nid = htons(id), nseq = htons(seq);
  const uint32_t nts = htonl(us);
  memcpy(ip + 4, &nid, 2);
  memcpy(rtp + 2, &nseq, 2);
  memcpy(rtp + 4, &nts, 4);
  const uint16_t ipSum = htons((uint16_t)~fold((uint64_t)s->ipBase + id));
  memcpy(ip + 10, &ipSum, 2);
  uint16_t udpSum = (uint16_t)~fold((uint64_t)s->udpBase + seq + (us >> 16) + (us & 0xffff));
  if (udpSum == 0) udpSum = 0xffff;
  udpSum = htons(udpSum);
  memcpy(ip + 26, &udpSum, 2);
}

static void cmdStreams(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return failLine("cannot open the streams file", NULL);
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < SINK_MAX_STREAMS) {
    int port = 0;
    if (sscanf(line, "%d", &port) < 1) continue;
    if (port <= 0 || port > 65535) { fclose(f); return failLine("bad port in the streams file", NULL); }
    streams[n].port = (uint16_t)port;
    streams[n].seq = (uint16_t)(n * 7919);
    n++;
  }
  fclose(f);
  streamCount = n;
  builtSize = -1;
  printf("{\"ok\":true,\"streams\":%d}\n", n);
  fflush(stdout);
}

static void cmdRun(double pps, int ms, int size) {
  if (streamCount == 0) return failLine("no streams", NULL);
  if (pps <= 0 || ms <= 0 || ms > 60000) return failLine("rate and duration must be positive (duration at most 60 s)", NULL);
  if (size < 12 || size > MAX_PACKET - 28 - trailer) return failLine("packet size must be 12..1472", NULL);
  if (size != builtSize && buildFrames(size) != 0) return failLine("cannot build the frames", NULL);
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  const int frameLen = HDR + size + trailer;
  const uint64_t start = nowNs(), end = start + (uint64_t)ms * 1000000u;
  cfg->start_us = (uint32_t)(start / 1000);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  memset(counts, 0, sizeof(uint64_t) * SINK_MAX_STREAMS);
  memset(hist, 0, sizeof(uint32_t) * SINK_HIST_US);
  const uint64_t foreign0 = cfg->foreign, stale0 = cfg->stale, netRx0 = __atomic_load_n(&charge->netrx_ns, __ATOMIC_RELAXED);
  uint64_t sent = 0, errors = 0;
  int next = 0;
  uint64_t now = start;
  while (now < end) {
    const uint64_t due = (uint64_t)((double)(now - start) * pps / 1e9);
    int budget = 4096;
    while (sent + errors < due && budget > 0) {
      int n = (int)(due - sent - errors);
      if (n > BATCH) n = BATCH;
      const uint32_t us = (uint32_t)(nowNs() / 1000);
      for (int k = 0; k < n; k++) {
        stamp(&streams[next], us);
        iov[k].iov_base = streams[next].frame;
        iov[k].iov_len = (size_t)frameLen;
        memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        next = (next + 1) % streamCount;
      }
      int done = sendmmsg(txSock, msgs, (unsigned)n, 0);
      if (done < 0) done = 0;
      sent += (uint64_t)done;
      errors += (uint64_t)(n - done);
      budget -= n;
    }
    now = nowNs();
    if (sent + errors >= (uint64_t)((double)(now - start) * pps / 1e9)) {
      struct timespec nap = {0, 20000};
      nanosleep(&nap, NULL);
      now = nowNs();
    }
  }
  const double elapsed = (double)(nowNs() - start) / 1e9;
  struct timespec drain = {0, DRAIN_MS * 1000000L};
  nanosleep(&drain, NULL);
  const uint64_t netRx = __atomic_load_n(&charge->netrx_ns, __ATOMIC_RELAXED) - netRx0;
  uint64_t received = 0, minStream = UINT64_MAX, maxStream = 0;
  int silent = 0;
  for (int i = 0; i < streamCount; i++) {
    const uint64_t c = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
    received += c;
    silent += c == 0;
    if (c < minStream) minStream = c;
    if (c > maxStream) maxStream = c;
  }
  printf("{\"sent\":%llu,\"sendErrors\":%llu,\"received\":%llu,\"foreign\":%llu,\"authFail\":0,\"stale\":%llu,"
         "\"silentStreams\":%d,\"minStream\":%llu,\"maxStream\":%llu,\"elapsedS\":%.4f,\"p50Us\":%u,\"p99Us\":%u,\"maxUs\":%u,"
         "\"netRxNs\":%llu}\n",
         (unsigned long long)sent, (unsigned long long)errors, (unsigned long long)received,
         (unsigned long long)(cfg->foreign - foreign0), (unsigned long long)(cfg->stale - stale0), silent,
         (unsigned long long)minStream, (unsigned long long)maxStream, elapsed, histPercentile(hist, SINK_HIST_US, received, 0.50),
         histPercentile(hist, SINK_HIST_US, received, 0.99), histHighest(hist, SINK_HIST_US), (unsigned long long)netRx);
  fflush(stdout);
}

static int parseMac(const char* text, uint8_t* mac) {
  return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

int main(int argc, char** argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: kgen <sink.bpf.o> <ifname> <src ip> <dst ip> <dst mac> <rx port lo> <rx port hi>\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1UL);
  const char* ifname = argv[2];
  const int ifindex = (int)if_nametoindex(ifname);
  const int portLo = atoi(argv[6]), portHi = atoi(argv[7]);
  if (!ifindex || inet_pton(AF_INET, argv[3], &srcIp) != 1 || inet_pton(AF_INET, argv[4], &dstIp) != 1 ||
      parseMac(argv[5], dstMac) != 0 || portLo <= 0 || portHi < portLo || portHi > 65535) {
    failLine("bad arguments", NULL);
    return 2;
  }
  struct ifreq req = {0};
  strncpy(req.ifr_name, ifname, IFNAMSIZ - 1);
  const int probe = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(probe, SIOCGIFHWADDR, &req) != 0) { failLine("cannot read the interface's MAC", NULL); return 1; }
  memcpy(srcMac, req.ifr_hwaddr.sa_data, 6);
  close(probe);

  // The relay latches on this port: hold it, so nothing else on this host takes it.
  const int hold = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = srcIp, .sin_port = htons(TX_PORT)};
  if (bind(hold, (struct sockaddr*)&sa, sizeof sa) != 0) { failLine("cannot bind the send port", NULL); return 1; }

  txSock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_protocol = 0};
  const int one = 1, buffer = 64 << 20;
  if (txSock < 0 || bind(txSock, (struct sockaddr*)&ll, sizeof ll) != 0) { failLine("cannot open the packet socket", NULL); return 1; }
  setsockopt(txSock, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  if (setsockopt(txSock, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0)
    setsockopt(txSock, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);

  struct bpf_object* obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || bpf_object__load(obj) != 0) { failLine("cannot load the sink program", NULL); return 1; }
  const int cfgFd = bpf_object__find_map_fd_by_name(obj, "sink_cfg");
  struct sink_config initial = {.addr = srcIp, .port_lo = (uint16_t)portLo, .port_hi = (uint16_t)portHi, .ssrc_base = SSRC_BASE};
  const uint32_t zero = 0;
  bpf_map_update_elem(cfgFd, &zero, &initial, BPF_ANY);
  // An array's element lives in place: the program and this process share it through the mapping.
  cfg = mapOf(obj, "sink_cfg", 4096);
  counts = mapOf(obj, "sink_streams", sizeof(uint64_t) * SINK_MAX_STREAMS);
  hist = mapOf(obj, "sink_hist", sizeof(uint32_t) * SINK_HIST_US);
  charge = mapOf(obj, "charge", 4096);
  struct bpf_program* prog = bpf_object__find_program_by_name(obj, "sink");
  if (!counts || !hist || !charge || !prog) { failLine("cannot map the sink's counters", NULL); return 1; }
  charge->cpu = UINT32_MAX;  // nothing charged until told which core
  const char* tracepoints[] = {"softirq_entry", "softirq_exit"};
  for (int i = 0; i < 2; i++) {
    struct bpf_program* tp = bpf_object__find_program_by_name(obj, tracepoints[i]);
    if (!tp || !bpf_program__attach(tp)) { failLine("cannot attach the softirq tracepoints", NULL); return 1; }
  }
  if (bpf_link_create(bpf_program__fd(prog), ifindex, (enum bpf_attach_type)TCX_INGRESS, NULL) < 0) {
    failLine("cannot attach the sink", NULL);
    return 1;
  }
  printf("{\"txPort\":%d,\"rxPort\":%d}\n", TX_PORT, portLo);
  fflush(stdout);

  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char arg[4000];
    double pps;
    int ms, size, verify, n;
    if (sscanf(line, "streams %3999s", arg) == 1) {
      cmdStreams(arg);
      if (cfg) cfg->streams = (uint32_t)streamCount;
    } else if (strncmp(line, "txkey ", 6) == 0) {
      if (strcmp(line + 6, "none") != 0) failLine("kgen sends no SRTP", NULL);
      else printf("{\"ok\":true}\n"), fflush(stdout);
    } else if (sscanf(line, "trailer %d", &n) == 1 && n >= 0 && n <= 64) {
      trailer = n;
      builtSize = -1;
      printf("{\"ok\":true}\n"), fflush(stdout);
    } else if (sscanf(line, "charge %d %3999s", &n, arg) == 2 && n >= 0 && n < SINK_MAX_CPUS) {
      memset(charge->exclude, 0, sizeof charge->exclude);
      char* save = NULL;
      int k = 0;
      for (char* pid = strtok_r(arg, ",", &save); pid && k < SINK_EXCLUDE; pid = strtok_r(NULL, ",", &save)) charge->exclude[k++] = (uint32_t)atoi(pid);
      charge->cpu = (uint32_t)n;
      printf("{\"ok\":true}\n"), fflush(stdout);
    } else if (sscanf(line, "run %lf %d %d %d", &pps, &ms, &size, &verify) == 4) {
      cmdRun(pps, ms, size);
    } else if (strcmp(line, "quit") == 0) {
      break;
    } else {
      failLine("unknown command", NULL);
    }
  }
  return 0;
}
