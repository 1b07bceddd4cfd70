// What the two load generators (loadgen.c on loopback, kernel/kgen.c across a veth pair) share: the clock, the
// error answer of their line protocol, and percentiles of a 1 µs latency histogram.
#ifndef MRA_BENCH_GEN_COMMON_H
#define MRA_BENCH_GEN_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void fail(const char* what) {
  printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
}

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
