// The media side of the call-load generator (src/capacity/): both ends of every call's media on one thread. The
// remote client's end sends and receives SRTP (AES_CM_128_HMAC_SHA1_80, one libsrtp context per direction per
// stream), the inside phone's end plain RTP; each call has an audio stream (and optionally a video one, its own
// sockets: a second m= line). Packets are paced by a timing wheel and sent with sendmmsg; arrivals are read with
// recvmmsg and counted per call: packets sent and received, RFC 3550 interarrival jitter, latency. The send time
// (µs) rides in the RTP timestamp: SRTP authenticates the header but does not encrypt it, and relays that neither
// transcode nor re-time (ours, rtpengine's userspace path) pass it through, so latency is read on every path.
//
// Driven by lines on stdin, answered by one JSON line each on stdout (errors as {"error":...}):
//   dest <client host> <inside host>        where the pair's client-facing and inside-facing ports live
//   add <id> <streams> then per stream: <client dest port> <client tx key hex> <client rx key hex> <inside dest port> <bytes> <interval µs>
//   stop <id>                                 stop sending (arrivals still count: the drain before the BYE)
//   del <id>                                  the call's figures, and its slot freed
//   window start|end|read                     counters of the packets stamped between start and end, read after a drain
//   quit
// First line out: {"client":[port,port],"inside":[port,port]} (the sockets for stream 0 and 1 on each side).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <srtp2/srtp.h>

#include "generator.h"

#define MAX_SLOTS 16384
#define MAX_STREAMS 2
#define BATCH 64
#define MAX_PACKET 1500
#define KEY_LEN 30
#define WHEEL 256          // 1 ms slots: every interval used here is shorter than the wheel
#define HIST_US 1000000    // window histogram: 1 µs buckets up to 1 s
#define CALL_BUCKETS 128   // per-call histogram: 10 % wide from 10 µs (10 µs × 1.1^127 ≈ 1.8 s)

enum { UP = 0, DOWN = 1 };  // UP: client → inside (SRTP in, RTP out of the pair); DOWN: inside → client

typedef struct {
  uint64_t sent, received, authFail;
  double jitterUs;
  int64_t lastTransitUs;
  int hasTransit;
  uint32_t hist[CALL_BUCKETS];
  uint32_t maxUs;
} flow_t;

typedef struct {
  struct sockaddr_in clientDest, insideDest;
  srtp_t tx, rx;        // the client's: protects what it sends, unprotects what it receives
  uint16_t seq[2];
  int bytes;
  uint32_t intervalUs;
  uint64_t dueUs;
  int32_t nextInWheel;  // wheel list link: slot*MAX_STREAMS+stream, -1 ends
  flow_t flow[2];
} stream_t;

typedef struct {
  char id[64];
  int used, sending, streams;
  uint16_t gen;
  stream_t s[MAX_STREAMS];
} call_t;

static call_t calls[MAX_SLOTS];
static int32_t wheel[WHEEL];
static uint64_t wheelUs;  // the wheel has been processed up to this time
static int clientSock[MAX_STREAMS], insideSock[MAX_STREAMS];
static struct in_addr clientHost, insideHost;
static uint16_t nextGen = 1;

// Window counters: packets stamped in [winStart, winEnd) and what became of them.
static struct {
  int open, closed;
  uint32_t startUs, endUs;
  uint64_t sent[2], received[2], authFail[2];
  uint32_t hist[2][HIST_US];
} win;
static uint64_t foreign;

static int makeSrtp(srtp_t* ctx, uint8_t* key, int outbound) {
  srtp_policy_t p;
  memset(&p, 0, sizeof p);
  srtp_crypto_policy_set_rtp_default(&p.rtp);
  srtp_crypto_policy_set_rtcp_default(&p.rtcp);
  p.key = key;
  p.window_size = 1024;
  p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  return srtp_create(ctx, &p) == srtp_err_status_ok ? 0 : -1;
}

// SSRC = generation (16 bits) | slot (14 bits) | stream (1 bit) | direction (1 bit): late packets of a call whose
// slot was reused carry the old generation and are counted as foreign, not as the new call's.
static uint32_t ssrcOf(int slot, int stream, int dir) {
  return ((uint32_t)calls[slot].gen << 16) | ((uint32_t)slot << 2) | ((uint32_t)stream << 1) | (uint32_t)dir;
}

static void wheelInsert(int slot, int stream) {
  stream_t* s = &calls[slot].s[stream];
  int w = (int)((s->dueUs / 1000u) % WHEEL);
  s->nextInWheel = wheel[w];
  wheel[w] = slot * MAX_STREAMS + stream;
}

static int findCall(const char* id) {
  for (int i = 0; i < MAX_SLOTS; i++)
    if (calls[i].used && strcmp(calls[i].id, id) == 0) return i;
  return -1;
}

static void freeCall(int slot) {
  call_t* c = &calls[slot];
  for (int k = 0; k < c->streams; k++) {
    if (c->s[k].tx) srtp_dealloc(c->s[k].tx);
    if (c->s[k].rx) srtp_dealloc(c->s[k].rx);
    c->s[k].tx = c->s[k].rx = NULL;
  }
  c->used = 0;
  c->sending = 0;
}

static void cmdAdd(char* args) {
  char id[64];
  int n = 0, used = 0;
  if (sscanf(args, "%63s %d%n", id, &n, &used) != 2 || n < 1 || n > MAX_STREAMS) return failLine("add needs an id and 1 or 2 streams", NULL);
  if (findCall(id) >= 0) return failLine("a call with this id exists", id);
  int slot = -1;
  static int cursor = 0;
  for (int i = 0; i < MAX_SLOTS && slot < 0; i++) {
    int j = (cursor + i) % MAX_SLOTS;
    if (!calls[j].used) slot = j;
  }
  if (slot < 0) return failLine("no free call slot", id);
  cursor = slot + 1;
  call_t* c = &calls[slot];
  memset(c, 0, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", id);
  c->gen = nextGen++;
  if (nextGen == 0) nextGen = 1;
  c->streams = n;
  char* p = args + used;
  uint64_t now = nowUs();
  for (int k = 0; k < n; k++) {
    int cport, iport, bytes, adv = 0;
    unsigned interval;
    char txHex[128], rxHex[128];
    uint8_t txKey[KEY_LEN], rxKey[KEY_LEN];
    if (sscanf(p, "%d %127s %127s %d %d %u%n", &cport, txHex, rxHex, &iport, &bytes, &interval, &adv) != 6) { freeCall(slot); return failLine("a stream needs 6 fields", id); }
    p += adv;
    if (cport <= 0 || cport > 65535 || iport <= 0 || iport > 65535) { freeCall(slot); return failLine("bad port", id); }
    if (bytes < 12 || bytes > MAX_PACKET || interval < 1000 || interval > 200000) { freeCall(slot); return failLine("bad packet size or interval", id); }
    if (parseHex(txHex, txKey, KEY_LEN) || parseHex(rxHex, rxKey, KEY_LEN)) { freeCall(slot); return failLine("bad key", id); }
    stream_t* s = &c->s[k];
    s->clientDest = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = clientHost, .sin_port = htons((uint16_t)cport)};
    s->insideDest = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = insideHost, .sin_port = htons((uint16_t)iport)};
    if (makeSrtp(&s->tx, txKey, 1) || makeSrtp(&s->rx, rxKey, 0)) { c->streams = k + 1; freeCall(slot); return failLine("srtp_create failed", id); }
    s->bytes = bytes;
    s->intervalUs = interval;
    s->seq[UP] = (uint16_t)rand();
    s->seq[DOWN] = (uint16_t)rand();
    // Calls start at a random phase of their interval, as real calls do: no burst every 20 ms.
    s->dueUs = now + (uint64_t)(rand() % (int)interval);
    wheelInsert(slot, k);
  }
  c->used = 1;
  c->sending = 1;
  printf("{\"added\":\"%s\"}\n", id);
  fflush(stdout);
}

static uint32_t callBucket(uint32_t us) {
  if (us <= 10) return 0;
  uint32_t b = (uint32_t)ceil(log((double)us / 10.0) / log(1.1));
  return b < CALL_BUCKETS ? b : CALL_BUCKETS - 1;
}

static double callPercentile(const uint32_t* h, uint64_t total, double q) {
  if (total == 0) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
  for (int b = 0; b < CALL_BUCKETS; b++) {
    seen += h[b];
    if (seen >= want) return 10.0 * pow(1.1, b);
  }
  return 10.0 * pow(1.1, CALL_BUCKETS - 1);
}

static void printFlow(const flow_t* f) {
  // A bucket's upper edge can pass the largest sample: no percentile above the maximum.
  double p50 = fmin(callPercentile(f->hist, f->received, 0.5), f->maxUs), p99 = fmin(callPercentile(f->hist, f->received, 0.99), f->maxUs);
  printf("{\"sent\":%llu,\"received\":%llu,\"authFail\":%llu,\"jitterUs\":%.1f,\"p50Us\":%.0f,\"p99Us\":%.0f,\"maxUs\":%u}",
         (unsigned long long)f->sent, (unsigned long long)f->received, (unsigned long long)f->authFail, f->jitterUs, p50, p99, f->maxUs);
}

static void cmdStop(const char* id) {
  int slot = findCall(id);
  if (slot < 0) return failLine("no such call", id);
  calls[slot].sending = 0;
  printf("{\"stopped\":\"%s\"}\n", id);
  fflush(stdout);
}

static void cmdDel(const char* id) {
  int slot = findCall(id);
  if (slot < 0) return failLine("no such call", id);
  call_t* c = &calls[slot];
  printf("{\"deleted\":\"%s\",\"streams\":[", id);
  for (int k = 0; k < c->streams; k++) {
    printf("%s{\"up\":", k ? "," : "");
    printFlow(&c->s[k].flow[UP]);
    printf(",\"down\":");
    printFlow(&c->s[k].flow[DOWN]);
    printf("}");
  }
  printf("]}\n");
  fflush(stdout);
  freeCall(slot);
}

static void cmdWindow(const char* what) {
  if (strcmp(what, "start") == 0) {
    memset(&win, 0, sizeof win);
    win.open = 1;
    win.startUs = (uint32_t)nowUs();
    printf("{\"window\":\"started\"}\n");
  } else if (strcmp(what, "end") == 0) {
    if (!win.open) return failLine("no window open", NULL);
    win.endUs = (uint32_t)nowUs();
    win.closed = 1;
    printf("{\"window\":\"ended\",\"us\":%u}\n", win.endUs - win.startUs);
  } else if (strcmp(what, "read") == 0) {
    if (!win.closed) return failLine("the window has not ended", NULL);
    // Jitter over the calls up now: the mean and the worst of their current RFC 3550 estimates, per direction.
    double jSum[2] = {0, 0}, jMax[2] = {0, 0};
    int flows[2] = {0, 0}, active = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
      if (!calls[i].used) continue;
      active++;
      for (int k = 0; k < calls[i].streams; k++)
        for (int d = 0; d < 2; d++) {
          const flow_t* f = &calls[i].s[k].flow[d];
          if (!f->hasTransit) continue;
          jSum[d] += f->jitterUs;
          flows[d]++;
          if (f->jitterUs > jMax[d]) jMax[d] = f->jitterUs;
        }
    }
    printf("{\"us\":%u,\"calls\":%d,\"foreign\":%llu", win.endUs - win.startUs, active, (unsigned long long)foreign);
    const char* names[2] = {"up", "down"};
    for (int d = 0; d < 2; d++) {
      printf(",\"%s\":{\"sent\":%llu,\"received\":%llu,\"authFail\":%llu,\"p50Us\":%u,\"p99Us\":%u,\"maxUs\":%u,\"jitterMeanUs\":%.1f,\"jitterMaxUs\":%.1f}",
             names[d], (unsigned long long)win.sent[d], (unsigned long long)win.received[d], (unsigned long long)win.authFail[d],
             histPercentile(win.hist[d], HIST_US, win.received[d], 0.5), histPercentile(win.hist[d], HIST_US, win.received[d], 0.99),
             histHighest(win.hist[d], HIST_US), flows[d] ? jSum[d] / flows[d] : 0.0, jMax[d]);
    }
    printf("}\n");
    win.open = win.closed = 0;
  } else return failLine("window start|end|read", NULL);
  fflush(stdout);
}

static int inWindow(uint32_t stampUs) {
  return win.open && (int32_t)(stampUs - win.startUs) >= 0 && (!win.closed || (int32_t)(stampUs - win.endUs) < 0);
}

// ---- sending ----

typedef struct {
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  uint8_t buf[BATCH][MAX_PACKET + SRTP_MAX_TRAILER_LEN];
  int n, fd;
} batch_t;

static batch_t out[2][MAX_STREAMS];  // [side: 0 client, 1 inside][stream]

static void flush(batch_t* b) {
  int done = 0;
  while (done < b->n) {
    int r = sendmmsg(b->fd, b->msgs + done, (unsigned)(b->n - done), 0);
    if (r <= 0) break;  // a full socket buffer: the rest count as sent and lost, which is what a call would see
    done += r;
  }
  b->n = 0;
}

static void sendOne(int slot, int k, int dir, uint32_t stampUs) {
  call_t* c = &calls[slot];
  stream_t* s = &c->s[k];
  batch_t* b = &out[dir == UP ? 0 : 1][k];
  uint8_t* p = b->buf[b->n];
  p[0] = 0x80;
  p[1] = k == 0 ? 0 : 96;  // PCMU, or the dynamic type the video line offers
  uint16_t seq = htons(s->seq[dir]++);
  uint32_t ts = htonl(stampUs), ssrc = htonl(ssrcOf(slot, k, dir));
  memcpy(p + 2, &seq, 2);
  memcpy(p + 4, &ts, 4);
  memcpy(p + 8, &ssrc, 4);
  memset(p + 12, 0xD5, (size_t)s->bytes - 12);
  int len = s->bytes;
  if (dir == UP && srtp_protect(s->tx, p, &len) != srtp_err_status_ok) return;
  b->iov[b->n] = (struct iovec){.iov_base = p, .iov_len = (size_t)len};
  memset(&b->msgs[b->n].msg_hdr, 0, sizeof b->msgs[b->n].msg_hdr);
  b->msgs[b->n].msg_hdr.msg_iov = &b->iov[b->n];
  b->msgs[b->n].msg_hdr.msg_iovlen = 1;
  b->msgs[b->n].msg_hdr.msg_name = dir == UP ? &s->clientDest : &s->insideDest;
  b->msgs[b->n].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  s->flow[dir].sent++;
  if (inWindow(stampUs)) win.sent[dir]++;
  if (++b->n == BATCH) flush(b);
}

// Every stream due up to now sends one packet each way; the wheel advances 1 ms slot by slot.
static void sendDue(uint64_t now) {
  if (wheelUs == 0) wheelUs = now;
  while (wheelUs / 1000u <= now / 1000u) {
    int w = (int)((wheelUs / 1000u) % WHEEL);
    int32_t link = wheel[w];
    wheel[w] = -1;
    int32_t later = -1;  // due in a later turn of the wheel, or later in this ms: back into the slot
    while (link >= 0) {
      int slot = link / MAX_STREAMS, k = link % MAX_STREAMS;
      stream_t* s = &calls[slot].s[k];
      link = s->nextInWheel;
      if (!calls[slot].used || !calls[slot].sending) continue;  // dropped from the wheel
      if (s->dueUs > now) { s->nextInWheel = later; later = slot * MAX_STREAMS + k; continue; }
      uint32_t stamp = (uint32_t)nowUs();
      sendOne(slot, k, UP, stamp);
      sendOne(slot, k, DOWN, stamp);
      s->dueUs += s->intervalUs;
      if (s->dueUs + 100000u < now) s->dueUs = now + s->intervalUs;  // a stall: pick up again, do not burst
      wheelInsert(slot, k);
    }
    while (later >= 0) {
      int slot = later / MAX_STREAMS, k = later % MAX_STREAMS;
      later = calls[slot].s[k].nextInWheel;
      wheelInsert(slot, k);
    }
    if (wheelUs / 1000u == now / 1000u) break;
    wheelUs += 1000u;
  }
  for (int side = 0; side < 2; side++)
    for (int k = 0; k < MAX_STREAMS; k++) flush(&out[side][k]);
}

// ---- receiving ----

static uint8_t recvBuf[BATCH][MAX_PACKET + 64];

static void account(flow_t* f, int dir, uint32_t stampUs, uint32_t arrivalUs) {
  int64_t transit = (int64_t)(int32_t)(arrivalUs - stampUs);
  if (f->hasTransit) {
    // RFC 3550 §6.4.1 / A.8: J += (|D| - J) / 16, D the change in transit time (here in µs).
    int64_t d = transit - f->lastTransitUs;
    if (d < 0) d = -d;
    f->jitterUs += ((double)d - f->jitterUs) / 16.0;
  }
  f->lastTransitUs = transit;
  f->hasTransit = 1;
  uint32_t lat = transit < 0 ? 0 : (uint32_t)transit;
  f->received++;
  f->hist[callBucket(lat)]++;
  if (lat > f->maxUs) f->maxUs = lat;
  if (inWindow(stampUs)) {
    win.received[dir]++;
    win.hist[dir][lat < HIST_US ? lat : HIST_US - 1]++;
  }
}

static void receive(int fd, int dir) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  for (int round = 0; round < 32; round++) {
    for (int k = 0; k < BATCH; k++) {
      iov[k] = (struct iovec){.iov_base = recvBuf[k], .iov_len = sizeof recvBuf[k]};
      memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    uint32_t arrival = (uint32_t)nowUs();
    for (int k = 0; k < n; k++) {
      uint8_t* p = recvBuf[k];
      int len = (int)msgs[k].msg_len;
      if (len < 12 || (p[0] & 0xC0) != 0x80 || (p[1] >= 192 && p[1] <= 223)) { foreign += len >= 12; continue; }  // keepalives, RTCP
      uint32_t ssrc, ts;
      memcpy(&ssrc, p + 8, 4);
      memcpy(&ts, p + 4, 4);
      ssrc = ntohl(ssrc);
      int slot = (int)((ssrc >> 2) & 0x3fff), st = (int)((ssrc >> 1) & 1);
      if ((int)(ssrc & 1) != dir || !calls[slot].used || calls[slot].gen != (ssrc >> 16) || st >= calls[slot].streams) { foreign++; continue; }
      stream_t* s = &calls[slot].s[st];
      uint32_t stamp = ntohl(ts);
      if (dir == DOWN && srtp_unprotect(s->rx, p, &len) != srtp_err_status_ok) {
        s->flow[dir].authFail++;
        if (inWindow(stamp)) win.authFail[dir]++;
        continue;
      }
      account(&s->flow[dir], dir, stamp, arrival);
    }
    if (n < BATCH) return;
  }
}

// ---- commands ----

static void command(char* line) {
  char a[64], b[64];
  if (strncmp(line, "add ", 4) == 0) cmdAdd(line + 4);
  else if (sscanf(line, "stop %63s", a) == 1) cmdStop(a);
  else if (sscanf(line, "del %63s", a) == 1) cmdDel(a);
  else if (sscanf(line, "window %63s", a) == 1) cmdWindow(a);
  else if (sscanf(line, "dest %63s %63s", a, b) == 2) {
    if (inet_pton(AF_INET, a, &clientHost) != 1 || inet_pton(AF_INET, b, &insideHost) != 1) return failLine("dest needs two IPv4 addresses", NULL);
    printf("{\"dest\":true}\n");
    fflush(stdout);
  } else failLine("unknown command", NULL);
}

int main(int argc, char** argv) {
  prctl(PR_SET_TIMERSLACK, 1UL);
  srand((unsigned)nowUs());
  if (srtp_init() != srtp_err_status_ok) return 2;
  // argv: <client bind address> <inside bind address> (default loopback)
  struct in_addr cb = {htonl(INADDR_LOOPBACK)}, ib = {htonl(INADDR_LOOPBACK)};
  if (argc > 1 && inet_pton(AF_INET, argv[1], &cb) != 1) { failLine("bad client bind address", NULL); return 2; }
  if (argc > 2 && inet_pton(AF_INET, argv[2], &ib) != 1) { failLine("bad inside bind address", NULL); return 2; }
  clientHost = insideHost = (struct in_addr){htonl(INADDR_LOOPBACK)};
  for (int k = 0; k < MAX_STREAMS; k++) {
    clientSock[k] = openUdpSocket(cb);
    insideSock[k] = openUdpSocket(ib);
    if (clientSock[k] < 0 || insideSock[k] < 0) { failLine("cannot open the sockets", NULL); return 2; }
    out[0][k].fd = clientSock[k];
    out[1][k].fd = insideSock[k];
  }
  for (int w = 0; w < WHEEL; w++) wheel[w] = -1;
  printf("{\"client\":[%d,%d],\"inside\":[%d,%d]}\n", localPort(clientSock[0]), localPort(clientSock[1]), localPort(insideSock[0]), localPort(insideSock[1]));
  fflush(stdout);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  static char in[1 << 16];
  size_t have = 0;
  struct pollfd fds[1 + 2 * MAX_STREAMS];
  fds[0] = (struct pollfd){.fd = 0, .events = POLLIN};
  for (int k = 0; k < MAX_STREAMS; k++) {
    fds[1 + k] = (struct pollfd){.fd = insideSock[k], .events = POLLIN};              // UP arrives inside
    fds[1 + MAX_STREAMS + k] = (struct pollfd){.fd = clientSock[k], .events = POLLIN};  // DOWN arrives at the client
  }
  for (;;) {
    uint64_t now = nowUs();
    sendDue(now);
    // Sleep until the next millisecond slot or an arrival: no busy loop, so the generator costs what its packets cost.
    uint64_t next = (now / 1000u + 1u) * 1000u;
    struct timespec t = {0, (long)((next - now) * 1000u)};
    int r = ppoll(fds, 1 + 2 * MAX_STREAMS, &t, NULL);
    if (r < 0 && errno != EINTR) return 3;
    for (int k = 0; k < MAX_STREAMS; k++) {
      if (fds[1 + k].revents & POLLIN) receive(insideSock[k], UP);
      if (fds[1 + MAX_STREAMS + k].revents & POLLIN) receive(clientSock[k], DOWN);
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, in + have, sizeof in - 1 - have);
      if (n == 0) return 0;  // stdin closed: the driver is gone
      if (n > 0) {
        have += (size_t)n;
        char* start = in;
        char* nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - in)))) {
          *nl = 0;
          if (strncmp(start, "quit", 4) == 0) return 0;
          command(start);
          start = nl + 1;
        }
        have -= (size_t)(start - in);
        memmove(in, start, have);
        if (have == sizeof in - 1) have = 0;  // a line longer than the buffer: dropped
      }
    }
  }
}
