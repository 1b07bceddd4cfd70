// RTP load generator for bench/media: sends RTP at a paced packet rate over N streams to a relay under test and
// receives what the relay forwards, on one thread (so it needs one core, and leaves the other to the relay).
// Driven by line commands on stdin, answered with one JSON line each on stdout:
//   streams <file>                 one stream per line: "<dest port on 127.0.0.1> [<rx SRTP key||salt, hex>]"
//   txkey <hex>|none               protect what we send (AES_CM_128_HMAC_SHA1_80), for SRTP->SRTP relays
//   run <pps> <ms> <size> <verify> one paced trial; verify=1 unprotects what arrives with the stream's rx key
//   quit
// The send time goes into the RTP timestamp field (microseconds, 32 bits): SRTP encrypts the payload but not the
// header, so latency is readable on every path without decrypting. SSRC 0x10000000+i names stream i.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <srtp2/srtp.h>

#include "../../src/capacity/generator.h"

#define BATCH 64
#define MAX_STREAMS 20000
#define MAX_PACKET 1500
#define SSRC_BASE 0x10000000u
#define HIST_US 1000000  // 1 µs buckets up to 1 s; later arrivals land in the last bucket
#define SRTP_KEY_LEN 30
#define DRAIN_MS 300

typedef struct {
  struct sockaddr_in dest;
  uint16_t seq;
  uint8_t rxKey[SRTP_KEY_LEN];
  int hasRxKey;
  uint64_t received;
  srtp_t tx;  // this stream's own context: one shared context keeps its streams in a list walked per packet
} stream_t;

static stream_t streams[MAX_STREAMS];
static int streamCount;
static int txSock, rxSock;
static uint8_t txKey[SRTP_KEY_LEN];
static int txKeySet;  // 0: send plain RTP
static srtp_t rxSrtp;  // per-SSRC streams, built on demand for verify runs
static uint32_t hist[HIST_US];
static uint8_t sendBuf[BATCH][MAX_PACKET + SRTP_MAX_TRAILER_LEN];
static uint8_t recvBuf[BATCH][MAX_PACKET + 64];


static int openSocket(void) { return openUdpSocket((struct in_addr){.s_addr = htonl(INADDR_LOOPBACK)}); }

static void basePolicy(srtp_policy_t* p, uint8_t* key) {
  memset(p, 0, sizeof *p);
  srtp_crypto_policy_set_rtp_default(&p->rtp);
  srtp_crypto_policy_set_rtcp_default(&p->rtcp);
  p->key = key;
  p->window_size = 1024;
}

static void dropRxSrtp(void) {
  if (rxSrtp) srtp_dealloc(rxSrtp);
  rxSrtp = NULL;
}

static void dropTxSrtp(void) {
  for (int i = 0; i < streamCount; i++) {
    if (streams[i].tx) srtp_dealloc(streams[i].tx);
    streams[i].tx = NULL;
  }
}

static void cmdStreams(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return failLine("cannot open the streams file", NULL);
  dropRxSrtp();
  dropTxSrtp();
  txKeySet = 0;  // the tx key goes with the streams: send txkey again after streams
  char line[256], key[128];
  int n = 0;
  while (fgets(line, sizeof line, f) && n < MAX_STREAMS) {
    int port = 0;
    key[0] = 0;
    if (sscanf(line, "%d %127s", &port, key) < 1) continue;
    if (port <= 0 || port > 65535) { fclose(f); return failLine("bad port in the streams file", NULL); }
    stream_t* s = &streams[n];
    memset(s, 0, sizeof *s);
    s->dest.sin_family = AF_INET;
    s->dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->dest.sin_port = htons((uint16_t)port);
    s->seq = (uint16_t)(n * 7919);
    if (key[0]) {
      if (parseHex(key, s->rxKey, SRTP_KEY_LEN) != 0) { fclose(f); return failLine("bad rx key in the streams file", NULL); }
      s->hasRxKey = 1;
    }
    n++;
  }
  fclose(f);
  streamCount = n;
  printf("{\"ok\":true,\"streams\":%d}\n", n);
  fflush(stdout);
}

// Every stream gets its own context under the one key, built here so no trial pays for srtp_create.
static void cmdTxKey(const char* hex) {
  dropTxSrtp();
  txKeySet = 0;
  if (strcmp(hex, "none") != 0) {
    if (parseHex(hex, txKey, SRTP_KEY_LEN) != 0) return failLine("bad tx key", NULL);
    for (int i = 0; i < streamCount; i++) {
      srtp_policy_t p;
      basePolicy(&p, txKey);
      p.ssrc.type = ssrc_any_outbound;
      if (srtp_create(&streams[i].tx, &p) != srtp_err_status_ok) return failLine("srtp_create failed for the tx key", NULL);
    }
    txKeySet = 1;
  }
  printf("{\"ok\":true}\n");
  fflush(stdout);
}

// Each stream's rx key under its own SSRC: a relay like rtpengine picks a fresh key per call.
static int buildRxSrtp(void) {
  if (rxSrtp) return 0;
  if (srtp_create(&rxSrtp, NULL) != srtp_err_status_ok) return -1;
  for (int i = 0; i < streamCount; i++) {
    if (!streams[i].hasRxKey) continue;
    srtp_policy_t p;
    basePolicy(&p, streams[i].rxKey);
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = SSRC_BASE + (uint32_t)i;
    if (srtp_add_stream(rxSrtp, &p) != srtp_err_status_ok) return -1;
  }
  return 0;
}

static int buildPacket(uint8_t* buf, int i, int size, uint32_t stampUs) {
  stream_t* s = &streams[i];
  buf[0] = 0x80;
  buf[1] = 0;  // PCMU: what the SDP offers, so no relay polices it away
  uint16_t seq = htons(s->seq++);
  uint32_t ts = htonl(stampUs), ssrc = htonl(SSRC_BASE + (uint32_t)i);
  memcpy(buf + 2, &seq, 2);
  memcpy(buf + 4, &ts, 4);
  memcpy(buf + 8, &ssrc, 4);
  memset(buf + 12, 0xD5, (size_t)size - 12);  // G.711 silence
  int len = size;
  if (txKeySet && (!s->tx || srtp_protect(s->tx, buf, &len) != srtp_err_status_ok)) return -1;
  return len;
}

typedef struct {
  uint64_t sent, sendErrors, received, foreign, authFail, stale;
} counts_t;

// Packets stamped before `startUs` were sent by an earlier trial and still queued in the relay: not ours.
static void receiveBatch(counts_t* c, int verify, uint32_t startUs) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  // Up to 2,048 a call, twice the send budget per loop: an overloaded relay's output must not queue here.
  for (int round = 0; round < 64; round++) {
    for (int k = 0; k < BATCH; k++) {
      iov[k].iov_base = recvBuf[k];
      iov[k].iov_len = sizeof recvBuf[k];
      memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(rxSock, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    uint32_t nowUs = (uint32_t)(nowNs() / 1000);
    for (int k = 0; k < n; k++) {
      uint8_t* p = recvBuf[k];
      int len = (int)msgs[k].msg_len;
      uint32_t ssrc, ts;
      if (len < 12 || (p[0] & 0xC0) != 0x80) { c->foreign++; continue; }
      memcpy(&ssrc, p + 8, 4);
      memcpy(&ts, p + 4, 4);
      uint32_t idx = ntohl(ssrc) - SSRC_BASE;
      if (idx >= (uint32_t)streamCount) { c->foreign++; continue; }
      if ((int32_t)(ntohl(ts) - startUs) < 0) { c->stale++; continue; }
      if (verify && streams[idx].hasRxKey && srtp_unprotect(rxSrtp, p, &len) != srtp_err_status_ok) {
        c->authFail++;
        continue;
      }
      uint32_t lat = nowUs - ntohl(ts);
      hist[lat < HIST_US ? lat : HIST_US - 1]++;
      streams[idx].received++;
      c->received++;
    }
    if (n < BATCH) return;
  }
}

static void cmdRun(double pps, int ms, int size, int verify) {
  if (streamCount == 0) return failLine("no streams", NULL);
  if (pps <= 0 || ms <= 0 || ms > 60000) return failLine("rate and duration must be positive (duration at most 60 s)", NULL);
  if (size < 12 || size > MAX_PACKET) return failLine("packet size must be 12..1500", NULL);
  if (verify && buildRxSrtp() != 0) return failLine("cannot set up the rx SRTP streams", NULL);
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  counts_t c = {0};
  memset(hist, 0, sizeof hist);
  for (int i = 0; i < streamCount; i++) streams[i].received = 0;

  const uint64_t start = nowNs(), end = start + (uint64_t)ms * 1000000u;
  const uint32_t startUs = (uint32_t)(start / 1000);
  int next = 0;
  uint64_t now = start;
  while (now < end) {
    const uint64_t due = (uint64_t)((double)(now - start) * pps / 1e9);
    int budget = 1024;  // keeps receiving interleaved with sending when behind
    while (c.sent + c.sendErrors < due && budget > 0) {
      int n = (int)(due - c.sent - c.sendErrors);
      if (n > BATCH) n = BATCH;
      const uint32_t stampUs = (uint32_t)(nowNs() / 1000);
      for (int k = 0; k < n; k++) {
        int len = buildPacket(sendBuf[k], next, size, stampUs);
        if (len < 0) return failLine("srtp_protect failed", NULL);
        iov[k].iov_base = sendBuf[k];
        iov[k].iov_len = (size_t)len;
        memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &streams[next].dest;
        msgs[k].msg_hdr.msg_namelen = sizeof streams[next].dest;
        next = (next + 1) % streamCount;
      }
      int done = sendmmsg(txSock, msgs, (unsigned)n, 0);
      if (done < 0) done = 0;
      c.sent += (uint64_t)done;
      c.sendErrors += (uint64_t)(n - done);  // not retried: pacing moves on, the trial reports them
      budget -= n;
    }
    receiveBatch(&c, verify, startUs);
    now = nowNs();
    if (c.sent + c.sendErrors >= (uint64_t)((double)(now - start) * pps / 1e9)) {
      struct timespec nap = {0, 20000};
      nanosleep(&nap, NULL);
      now = nowNs();
    }
  }
  const double elapsed = (double)(nowNs() - start) / 1e9;
  for (uint64_t drainEnd = nowNs() + DRAIN_MS * 1000000u; nowNs() < drainEnd;) {
    receiveBatch(&c, verify, startUs);
    struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
  }
  // The least and most any stream got: fairness across calls under overload (test/soak).
  int silent = 0;
  uint64_t minStream = UINT64_MAX, maxStream = 0;
  for (int i = 0; i < streamCount; i++) {
    silent += streams[i].received == 0;
    if (streams[i].received < minStream) minStream = streams[i].received;
    if (streams[i].received > maxStream) maxStream = streams[i].received;
  }
  printf("{\"sent\":%llu,\"sendErrors\":%llu,\"received\":%llu,\"foreign\":%llu,\"authFail\":%llu,\"stale\":%llu,"
         "\"silentStreams\":%d,\"minStream\":%llu,\"maxStream\":%llu,\"elapsedS\":%.4f,\"p50Us\":%u,\"p99Us\":%u,\"maxUs\":%u}\n",
         (unsigned long long)c.sent, (unsigned long long)c.sendErrors, (unsigned long long)c.received,
         (unsigned long long)c.foreign, (unsigned long long)c.authFail, (unsigned long long)c.stale, silent,
         (unsigned long long)minStream, (unsigned long long)maxStream, elapsed,
         histPercentile(hist, HIST_US, c.received, 0.50), histPercentile(hist, HIST_US, c.received, 0.99), histHighest(hist, HIST_US));
  fflush(stdout);
}

int main(void) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // 20 µs naps must stay short for pacing
  if (srtp_init() != srtp_err_status_ok) return 2;
  txSock = openSocket();
  rxSock = openSocket();
  if (txSock < 0 || rxSock < 0) { failLine("cannot open the sockets", NULL); return 2; }
  printf("{\"txPort\":%d,\"rxPort\":%d}\n", localPort(txSock), localPort(rxSock));
  fflush(stdout);
  char line[1024], arg[900];
  while (fgets(line, sizeof line, stdin)) {
    double pps;
    int ms, size, verify;
    if (sscanf(line, "streams %899s", arg) == 1) cmdStreams(arg);
    else if (sscanf(line, "txkey %899s", arg) == 1) cmdTxKey(arg);
    else if (sscanf(line, "run %lf %d %d %d", &pps, &ms, &size, &verify) == 4) cmdRun(pps, ms, size, verify);
    else if (strncmp(line, "quit", 4) == 0) break;
    else failLine("unknown command", NULL);
  }
  return 0;
}
