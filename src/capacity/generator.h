// What the load generators share: the capacity tool's call generator (callgen.c, beside this file) and the benches'
// (bench/media/loadgen.c, bench/media/kernel/kgen.c, bench/turn/loadgen.c, which include it from here): the clock,
// a UDP socket whose buffers are big enough that a generator is never the one that drops, its port, keys written in
// hex, percentiles of a 1 µs latency histogram, and the error answer of their line protocol. Header-only: each
// generator is one C file that cc builds on its own.
#ifndef MRA_CAPACITY_GENERATOR_H
#define MRA_CAPACITY_GENERATOR_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// The answer to a command line a generator could not carry out, naming the call it was about when there is one.
static inline void failLine(const char* what, const char* id) {
  if (id)
    printf("{\"error\":\"%s\",\"id\":\"%s\"}\n", what, id);
  else
    printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
}

static inline uint64_t nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t nowUs(void) { return nowNs() / 1000u; }

// A non-blocking UDP socket bound to `host` (any port), with 32 MB buffers each way: as root beyond rmem_max and
// wmem_max, else as far as they allow.
static inline int openUdpSocket(struct in_addr host) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int size = 32 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = host};
  if (bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static inline int localPort(int fd) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(fd, (struct sockaddr*)&sa, &len);
  return ntohs(sa.sin_port);
}

// `len` bytes from exactly 2 × len hex digits; -1 otherwise.
static inline int parseHex(const char* hex, uint8_t* out, int len) {
  if ((int)strlen(hex) != 2 * len) return -1;
  for (int i = 0; i < len; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

// The q-quantile (0..1) of `total` samples in a histogram of 1 µs buckets; `buckets` when it lies beyond them.
static inline uint32_t histPercentile(const uint32_t* hist, uint32_t buckets, uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (uint32_t us = 0; us < buckets; us++) {
    seen += hist[us];
    if (seen > want) return us;
  }
  return buckets;
}

static inline uint32_t histHighest(const uint32_t* hist, uint32_t buckets) {
  for (uint32_t us = buckets; us-- > 0;)
    if (hist[us]) return us;
  return 0;
}
#endif
