// What the benches' C load generators (bench/media/loadgen.c, bench/turn/loadgen.c) share: the clock, the error
// line, big socket buffers, a bound UDP socket, and latency percentiles from a histogram of 1 µs buckets.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // recvmmsg
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HIST_US 1000000  // 1 µs buckets up to 1 s; later arrivals land in the last bucket

static inline uint64_t nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void fail(const char* what) {
  printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
}

// A non-blocking UDP socket on `address` (host order), any port, with 32 MB buffers: as root beyond rmem_max,
// since the generator must never be the one that drops.
static inline int openBoundSocket(uint32_t address) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int size = 32 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(address)};
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

// One recvmmsg of up to `n` datagrams into `n` buffers of `size` bytes laid out one after another.
static inline int receiveInto(int fd, struct mmsghdr* msgs, struct iovec* iov, uint8_t* buffers, size_t size, int n) {
  for (int k = 0; k < n; k++) {
    iov[k].iov_base = buffers + (size_t)k * size;
    iov[k].iov_len = size;
    struct msghdr h = {0};
    h.msg_iov = &iov[k];
    h.msg_iovlen = 1;
    msgs[k].msg_hdr = h;
  }
  return recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
}

static inline uint32_t percentile(const uint32_t* hist, uint64_t total, double q) {
  uint64_t want = (uint64_t)(q * (double)total), seen = 0;
  for (uint32_t us = 0; us < HIST_US; us++) {
    seen += hist[us];
    if (seen > want) return us;
  }
  return HIST_US;
}
