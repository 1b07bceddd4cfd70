// The limit for bench/media: the least a userspace relay can do. One UDP socket per stream on 127.0.0.1, one epoll
// loop, recvmmsg a batch from a readable socket and sendmmsg it unchanged from that socket to one destination.
// No parsing, no state, no crypto: whatever a real relay costs above this is its own work.
// Usage: reflector <streams> <destination port> [<bind address> <destination address>] (both 127.0.0.1 by default;
// the kernel rows run it in a namespace of its own). Prints each socket's port, one a line, then "ready"; exits on
// SIGTERM or when stdin closes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAX_PACKET 1500
#define SOCKET_BUFFER (4 << 20)  // the same request our engine makes, capped the same way by rmem_max

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: reflector <streams> <destination port> [<bind address> <destination address>]\n");
    return 2;
  }
  const int count = atoi(argv[1]), destPort = atoi(argv[2]);
  struct in_addr bindAddr = {htonl(INADDR_LOOPBACK)}, destAddr = {htonl(INADDR_LOOPBACK)};
  if (count <= 0 || count > 30000 || destPort <= 0 || destPort > 65535 ||
      (argc == 5 && (inet_pton(AF_INET, argv[3], &bindAddr) != 1 || inet_pton(AF_INET, argv[4], &destAddr) != 1))) {
    fprintf(stderr, "reflector: streams must be 1..30000, the port 1..65535, the addresses IPv4\n");
    return 2;
  }
  const int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);  // stdin: EOF means the bench is done with us
  for (int i = 0; i < count; i++) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int size = SOCKET_BUFFER;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = bindAddr};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr*)&sa, &len) != 0) {
      perror("reflector: socket");
      return 1;
    }
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    printf("%d\n", ntohs(sa.sin_port));
  }
  printf("ready\n");
  fflush(stdout);

  static uint8_t bufs[BATCH][MAX_PACKET];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in dest = {.sin_family = AF_INET, .sin_addr = destAddr, .sin_port = htons((uint16_t)destPort)};
  struct epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(ep, events, 64, -1);
    for (int e = 0; e < n; e++) {
      const int fd = events[e].data.fd;
      if (fd == 0) {
        char sink[256];
        if (read(0, sink, sizeof sink) <= 0) return 0;
        continue;
      }
      for (;;) {
        for (int k = 0; k < BATCH; k++) {
          iov[k].iov_base = bufs[k];
          iov[k].iov_len = MAX_PACKET;
          memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
        }
        const int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        for (int k = 0; k < got; k++) {
          iov[k].iov_len = msgs[k].msg_len;
          msgs[k].msg_hdr.msg_name = &dest;
          msgs[k].msg_hdr.msg_namelen = sizeof dest;
        }
        sendmmsg(fd, msgs, (unsigned)got, 0);
        if (got < BATCH) break;
      }
    }
  }
}
