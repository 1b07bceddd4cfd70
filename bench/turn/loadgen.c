// TURN load generator for bench/turn: N TURN clients and their N peers in one thread and two sockets. Client i
// sends from 127.1.0.0 + 1 + i and peer i from 127.2.0.0 + 1 + i (IP_PKTINFO picks the source address of each
// datagram, so one socket, bound to every address, speaks for thousands of 5-tuples and sends them in sendmmsg
// batches); a TURN server sees N distinct clients and relays to N distinct peers.
// Driven by line commands on stdin, answered with one JSON line each on stdout:
//   setup <server port> <secret> <count> <client net> <peer net>
//        count allocations on 127.0.0.1:<server port>, credentials from the shared secret (coturn's use-auth-secret:
//        USERNAME <expiry>:user<i>, password base64(HMAC-SHA1(secret, USERNAME))), each with channel 0x4001 bound
//        to its peer; client and peer addresses from <net>.0.0 (e.g. 127.1 and 127.2)
//   run <pps> <ms> <size>   half the packets ChannelData client→peer, half UDP peer→relayed address (coming back
//        as ChannelData), round-robin over the allocations; pps 0: as fast as this thread can send
//   teardown                 Refresh with LIFETIME 0 for every allocation
//   quit
// The send time (µs) and the allocation travel in the first 8 payload bytes, so latency and per-allocation
// delivery are read on arrival.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/capacity/generator.h"

#define HIST_US 1000000  // 1 µs buckets up to 1 s; later arrivals land in the last bucket

#define BATCH 64
#define MAX_ALLOCATIONS 20000
#define MAX_PACKET 1400
#define DRAIN_MS 300
#define COOKIE 0x2112A442u
#define CHANNEL 0x4001

typedef struct {
  struct in_addr client, peer;
  uint16_t relayPort;
  char username[64];
  char nonce[128];  // ours binds a nonce to the client's address: each allocation keeps its own
  uint8_t key[16];
  uint64_t toPeer, toClient;  // received this trial
} allocation_t;

static allocation_t allocs[MAX_ALLOCATIONS];
static int count;
static int clientSock, peerSock;
static uint16_t serverPort;
static char realm[128];
static uint32_t hist[HIST_US];

// Bound to every address, so that one socket receives for thousands of 127.x addresses; IP_PKTINFO on each send
// picks which of them a datagram comes from. 32 MB buffers (as root beyond rmem_max): the generator must never be
// the one that drops.
static int openSocket(void) {
  int fd = openUdpSocket((struct in_addr){.s_addr = htonl(INADDR_ANY)}), one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  return fd;
}

// ---- STUN, just what a client's setup needs ----

static void wr16(uint8_t* p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void wr32(uint8_t* p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }
static uint16_t rd16(const uint8_t* p) { return (uint16_t)((p[0] << 8) | p[1]); }

typedef struct { uint8_t b[1024]; int len; } msg_t;

static void msgStart(msg_t* m, uint16_t type, uint8_t tid[12]) {
  wr16(m->b, type);
  wr16(m->b + 2, 0);
  wr32(m->b + 4, COOKIE);
  RAND_bytes(tid, 12);
  memcpy(m->b + 8, tid, 12);
  m->len = 20;
}

static void msgAttr(msg_t* m, uint16_t type, const void* v, int len) {
  wr16(m->b + m->len, type);
  wr16(m->b + m->len + 2, (uint16_t)len);
  memcpy(m->b + m->len + 4, v, (size_t)len);
  int padded = (len + 3) & ~3;
  memset(m->b + m->len + 4 + len, 0, (size_t)(padded - len));
  m->len += 4 + padded;
  wr16(m->b + 2, (uint16_t)(m->len - 20));
}

static void msgXorAddress(msg_t* m, uint16_t type, struct in_addr a, uint16_t port) {
  uint8_t v[8] = {0, 1};
  wr16(v + 2, (uint16_t)(port ^ (COOKIE >> 16)));
  wr32(v + 4, ntohl(a.s_addr) ^ COOKIE);
  msgAttr(m, type, v, 8);
}

static void msgIntegrity(msg_t* m, const uint8_t key[16]) {
  wr16(m->b + 2, (uint16_t)(m->len - 20 + 24));
  unsigned n = 0;
  uint8_t mac[20];
  HMAC(EVP_sha1(), key, 16, m->b, (size_t)m->len, mac, &n);
  msgAttr(m, 0x0008, mac, 20);
}

// Sends from `src` and waits for the answer with this transaction id; returns its error code (0: success), -1 on timeout.
static int transact(msg_t* m, const uint8_t tid[12], struct in_addr src, uint8_t* answer, int* answerLen) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(serverPort), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int attempt = 0; attempt < 5; attempt++) {
    char control[CMSG_SPACE(sizeof(struct in_pktinfo))] = {0};
    struct iovec iov = {m->b, (size_t)m->len};
    struct msghdr h = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    ((struct in_pktinfo*)CMSG_DATA(c))->ipi_spec_dst = src;
    if (sendmsg(clientSock, &h, 0) < 0) return -1;
    const uint64_t until = nowNs() + 500000000u;
    while (nowNs() < until) {
      struct pollfd p = {clientSock, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int n = (int)recv(clientSock, answer, 1500, 0);
      if (n < 20 || memcmp(answer + 8, tid, 12) != 0) continue;
      *answerLen = n;
      if ((rd16(answer) & 0x0110) == 0x0100) return 0;  // success class
      for (int pos = 20; pos + 4 <= n;) {
        uint16_t t = rd16(answer + pos), l = rd16(answer + pos + 2);
        if (t == 0x0009 && l >= 4) return answer[pos + 6] * 100 + answer[pos + 7];
        pos += 4 + ((l + 3) & ~3);
      }
      return 500;
    }
  }
  return -1;
}

static const uint8_t* findAttr(const uint8_t* msg, int len, uint16_t type, uint16_t* alen) {
  for (int pos = 20; pos + 4 <= len;) {
    uint16_t t = rd16(msg + pos), l = rd16(msg + pos + 2);
    if (t == type) {
      *alen = l;
      return msg + pos + 4;
    }
    pos += 4 + ((l + 3) & ~3);
  }
  return NULL;
}

static void credentials(allocation_t* a, int i, const char* secret) {
  snprintf(a->username, sizeof a->username, "%ld:user%d", (long)time(NULL) + 86400, i);
  uint8_t mac[20];
  unsigned n = 0;
  HMAC(EVP_sha1(), secret, (int)strlen(secret), (const uint8_t*)a->username, strlen(a->username), mac, &n);
  char password[64];
  EVP_EncodeBlock((unsigned char*)password, mac, 20);
  char input[512];
  int len = snprintf(input, sizeof input, "%s:%s:%s", a->username, realm, password);
  EVP_Digest(input, (size_t)len, a->key, &n, EVP_md5(), NULL);
}

static void authenticated(msg_t* m, allocation_t* a) {
  msgAttr(m, 0x0006, a->username, (int)strlen(a->username));
  msgAttr(m, 0x0014, realm, (int)strlen(realm));
  msgAttr(m, 0x0015, a->nonce, (int)strlen(a->nonce));
  msgIntegrity(m, a->key);
}

// Allocate (after a 401 or 438 that brings realm and nonce), then ChannelBind to the peer.
static int setupOne(int i, const char* secret, char* why, size_t whyLen) {
  allocation_t* a = &allocs[i];
  uint8_t tid[12], answer[1500];
  int answerLen = 0;
  const uint8_t transport[4] = {17, 0, 0, 0};
  const uint8_t lifetime[4] = {0, 0, 0x0e, 0x10};  // 3600 s
  int code = 401;
  for (int attempt = 0; attempt < 3 && (code == 401 || code == 438); attempt++) {
    msg_t m;
    msgStart(&m, 0x0003, tid);
    msgAttr(&m, 0x0019, transport, 4);
    msgAttr(&m, 0x000D, lifetime, 4);
    if (attempt > 0) {
      credentials(a, i, secret);
      authenticated(&m, a);
    }
    code = transact(&m, tid, a->client, answer, &answerLen);
    uint16_t l = 0;
    const uint8_t* v;
    if ((code == 401 || code == 438) && (v = findAttr(answer, answerLen, 0x0015, &l)) && l < sizeof a->nonce) {
      memcpy(a->nonce, v, l);
      a->nonce[l] = 0;
    }
    if ((code == 401 || code == 438) && (v = findAttr(answer, answerLen, 0x0014, &l)) && l < sizeof realm) {
      memcpy(realm, v, l);
      realm[l] = 0;
    }
  }
  if (code != 0) {
    snprintf(why, whyLen, "allocation %d: Allocate answered %d", i, code);
    return -1;
  }
  uint16_t l = 0;
  const uint8_t* relayed = findAttr(answer, answerLen, 0x0016, &l);
  if (!relayed || l != 8) {
    snprintf(why, whyLen, "allocation %d: no XOR-RELAYED-ADDRESS", i);
    return -1;
  }
  a->relayPort = (uint16_t)(rd16(relayed + 2) ^ (COOKIE >> 16));
  msg_t m;
  msgStart(&m, 0x0009, tid);
  uint8_t channel[4] = {CHANNEL >> 8, CHANNEL & 0xFF, 0, 0};
  msgAttr(&m, 0x000C, channel, 4);
  msgXorAddress(&m, 0x0012, a->peer, localPort(peerSock));
  authenticated(&m, a);
  code = transact(&m, tid, a->client, answer, &answerLen);
  if (code != 0) {
    snprintf(why, whyLen, "allocation %d: ChannelBind answered %d", i, code);
    return -1;
  }
  return 0;
}

static void cmdSetup(int port, const char* secret, int n, int clientNet, int peerNet) {
  if (n < 1 || n > MAX_ALLOCATIONS) return failLine("count must be 1..20000", NULL);
  serverPort = (uint16_t)port;
  count = 0;
  realm[0] = 0;
  const uint64_t start = nowNs();
  char why[256];
  for (int i = 0; i < n; i++) {
    allocation_t* a = &allocs[i];
    memset(a, 0, sizeof *a);
    a->client.s_addr = htonl(((uint32_t)127 << 24) | ((uint32_t)clientNet << 16) | (uint32_t)(i + 1));
    a->peer.s_addr = htonl(((uint32_t)127 << 24) | ((uint32_t)peerNet << 16) | (uint32_t)(i + 1));
    if (setupOne(i, secret, why, sizeof why) != 0) {
      printf("{\"error\":\"%s\",\"allocations\":%d}\n", why, count);
      fflush(stdout);
      return;
    }
    count++;
  }
  printf("{\"ok\":true,\"allocations\":%d,\"ms\":%.1f}\n", count, (double)(nowNs() - start) / 1e6);
  fflush(stdout);
}

static void cmdTeardown(void) {
  int deleted = 0;
  for (int i = 0; i < count; i++) {
    msg_t m;
    uint8_t tid[12], answer[1500];
    int len;
    msgStart(&m, 0x0004, tid);
    const uint8_t zero[4] = {0};
    msgAttr(&m, 0x000D, zero, 4);
    authenticated(&m, &allocs[i]);
    if (transact(&m, tid, allocs[i].client, answer, &len) == 0) deleted++;
  }
  printf("{\"ok\":true,\"deleted\":%d}\n", deleted);
  count = 0;
  fflush(stdout);
}

// ---- traffic ----

typedef struct {
  uint64_t sent, sendErrors, toPeer, toClient, stale, foreign;
} counts_t;

static uint8_t sendBuf[2][BATCH][MAX_PACKET + 4];
static uint8_t recvBuf[BATCH][2048];
static char sendControl[2][BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];

// Fills the payload: send time (µs, 32 bits) and allocation index; the rest is G.711 silence.
static void payload(uint8_t* p, int size, uint32_t stampUs, int i) {
  wr32(p, stampUs);
  wr32(p + 4, (uint32_t)i);
  memset(p + 8, 0xD5, (size_t)size - 8);
}

static void receiveOn(int fd, int headerBytes, counts_t* c, uint32_t startUs) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  for (int round = 0; round < 64; round++) {
    for (int k = 0; k < BATCH; k++) {
      iov[k] = (struct iovec){recvBuf[k], sizeof recvBuf[k]};
      msgs[k].msg_hdr = (struct msghdr){.msg_iov = &iov[k], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    const uint32_t nowUs = (uint32_t)(nowNs() / 1000);
    for (int k = 0; k < n; k++) {
      const uint8_t* p = recvBuf[k] + headerBytes;
      if ((int)msgs[k].msg_len < headerBytes + 8) { c->foreign++; continue; }
      const uint32_t stamp = ntohl(*(const uint32_t*)p), idx = ntohl(*(const uint32_t*)(p + 4));
      if (idx >= (uint32_t)count) { c->foreign++; continue; }
      if ((int32_t)(stamp - startUs) < 0) { c->stale++; continue; }
      const uint32_t lat = nowUs - stamp;
      hist[lat < HIST_US ? lat : HIST_US - 1]++;
      if (headerBytes) allocs[idx].toClient++, c->toClient++;
      else allocs[idx].toPeer++, c->toPeer++;
    }
    if (n < BATCH) return;
  }
}

// One sendmmsg batch from one side: dir 0 client→server (ChannelData), dir 1 peer→relayed address.
static int sendBatch(int dir, int n, int* next, int size, uint32_t stampUs) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static struct sockaddr_in to[BATCH];
  for (int k = 0; k < n; k++) {
    allocation_t* a = &allocs[*next];
    uint8_t* b = sendBuf[dir][k];
    int len = size;
    if (dir == 0) {
      wr16(b, CHANNEL);
      wr16(b + 2, (uint16_t)size);
      payload(b + 4, size, stampUs, *next);
      len += 4;
      to[k] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(serverPort), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    } else {
      payload(b, size, stampUs, *next);
      to[k] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(a->relayPort), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    }
    iov[k].iov_base = b;
    iov[k].iov_len = (size_t)len;
    memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_name = &to[k];
    msgs[k].msg_hdr.msg_namelen = sizeof to[k];
    msgs[k].msg_hdr.msg_control = sendControl[dir][k];
    msgs[k].msg_hdr.msg_controllen = sizeof sendControl[dir][k];
    struct cmsghdr* c = CMSG_FIRSTHDR(&msgs[k].msg_hdr);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo* info = (struct in_pktinfo*)CMSG_DATA(c);
    memset(info, 0, sizeof *info);
    info->ipi_spec_dst = dir == 0 ? a->client : a->peer;
    *next = (*next + 1) % count;
  }
  int done = sendmmsg(dir == 0 ? clientSock : peerSock, msgs, (unsigned)n, 0);
  return done < 0 ? 0 : done;
}

static void cmdRun(double pps, int ms, int size) {
  if (count == 0) return failLine("no allocations", NULL);
  if (pps < 0 || ms <= 0 || ms > 60000) return failLine("rate must be >= 0 and duration 1..60000 ms", NULL);
  if (size < 8 || size > MAX_PACKET) return failLine("payload size must be 8..1400", NULL);
  counts_t c = {0};
  memset(hist, 0, sizeof hist);
  for (int i = 0; i < count; i++) allocs[i].toPeer = allocs[i].toClient = 0;
  const uint64_t start = nowNs(), end = start + (uint64_t)ms * 1000000u;
  const uint32_t startUs = (uint32_t)(start / 1000);
  int next[2] = {0, 0}, dir = 0;
  uint64_t now = start;
  while (now < end) {
    // pps 0: a batch each way per loop, as fast as the thread goes.
    const uint64_t due = pps > 0 ? (uint64_t)((double)(now - start) * pps / 1e9) : c.sent + c.sendErrors + 2 * BATCH;
    int budget = 1024;
    while (c.sent + c.sendErrors < due && budget > 0) {
      int n = (int)(due - c.sent - c.sendErrors);
      if (n > BATCH) n = BATCH;
      const int done = sendBatch(dir, n, &next[dir], size, (uint32_t)(nowNs() / 1000));
      c.sent += (uint64_t)done;
      c.sendErrors += (uint64_t)(n - done);
      budget -= n;
      dir ^= 1;
    }
    receiveOn(peerSock, 0, &c, startUs);
    receiveOn(clientSock, 4, &c, startUs);
    now = nowNs();
    if (pps > 0 && c.sent + c.sendErrors >= (uint64_t)((double)(now - start) * pps / 1e9)) {
      struct timespec nap = {0, 20000};
      nanosleep(&nap, NULL);
      now = nowNs();
    }
  }
  const double elapsed = (double)(nowNs() - start) / 1e9;
  for (uint64_t drainEnd = nowNs() + DRAIN_MS * 1000000u; nowNs() < drainEnd;) {
    receiveOn(peerSock, 0, &c, startUs);
    receiveOn(clientSock, 4, &c, startUs);
    struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
  }
  // Allocations that got nothing in one direction or the other: a relay that forgot some.
  int silent = 0;
  for (int i = 0; i < count; i++) silent += allocs[i].toPeer == 0 || allocs[i].toClient == 0;
  const uint64_t received = c.toPeer + c.toClient;
  printf("{\"sent\":%llu,\"sendErrors\":%llu,\"toPeer\":%llu,\"toClient\":%llu,\"stale\":%llu,\"foreign\":%llu,"
         "\"silentAllocations\":%d,\"elapsedS\":%.4f,\"p50Us\":%u,\"p99Us\":%u}\n",
         (unsigned long long)c.sent, (unsigned long long)c.sendErrors, (unsigned long long)c.toPeer,
         (unsigned long long)c.toClient, (unsigned long long)c.stale, (unsigned long long)c.foreign, silent, elapsed,
         histPercentile(hist, HIST_US, received, 0.50), histPercentile(hist, HIST_US, received, 0.99));
  fflush(stdout);
}

int main(void) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // 20 µs naps must stay short for pacing
  clientSock = openSocket();
  peerSock = openSocket();
  if (clientSock < 0 || peerSock < 0) {
    failLine("cannot open the sockets", NULL);
    return 2;
  }
  printf("{\"clientPort\":%d,\"peerPort\":%d}\n", localPort(clientSock), localPort(peerSock));
  fflush(stdout);
  char line[1024], secret[512];
  while (fgets(line, sizeof line, stdin)) {
    double pps;
    int port, n, ms, size, clientNet, peerNet;
    if (sscanf(line, "setup %d %511s %d %d %d", &port, secret, &n, &clientNet, &peerNet) == 5) cmdSetup(port, secret, n, clientNet, peerNet);
    else if (sscanf(line, "run %lf %d %d", &pps, &ms, &size) == 3) cmdRun(pps, ms, size);
    else if (strncmp(line, "teardown", 8) == 0) cmdTeardown();
    else if (strncmp(line, "quit", 4) == 0) break;
    else failLine("unknown command", NULL);
  }
  return 0;
}
