// Many datagram operations on different sockets in one system call (io_uring), where sendmmsg and recvmmsg need one
// call per socket: a TURN thread sends each client's ChannelData from that allocation's own relay socket and reads
// each ready relay socket, so without it a relayed packet costs a system call of its own (and on a VM a system call
// costs more than the packet's UDP work). Every operation is non-blocking (MSG_DONTWAIT) and completes within the
// call. Without io_uring (an older kernel, a seccomp filter, kernel.io_uring_disabled, a build without liburing)
// each operation is its own sendmsg or recvmsg, with the same results.
#pragma once
#include <sys/socket.h>

#include <memory>

namespace mra::turn {

class BatchIo {
 public:
  static constexpr int kMaxBatch = 128;

  // useRing false: system calls only (what a kernel without io_uring gets; the tests run both ways).
  explicit BatchIo(bool useRing = true);
  ~BatchIo();
  BatchIo(const BatchIo&) = delete;
  BatchIo& operator=(const BatchIo&) = delete;

  bool usesRing() const;
  // results[i]: bytes sent or received, or -errno. n <= kMaxBatch.
  void send(const int* fds, msghdr* const* msgs, int* results, int n);
  void receive(const int* fds, msghdr* const* msgs, int* results, int n);

 private:
  void run(bool sending, const int* fds, msghdr* const* msgs, int* results, int n);
  struct Ring;
  std::unique_ptr<Ring> ring_;
};

}  // namespace mra::turn
