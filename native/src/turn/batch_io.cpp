#include "turn/batch_io.hpp"

#include <cerrno>

#ifdef MRA_HAVE_IO_URING
#include <liburing.h>
#endif

namespace mra::turn {

#ifdef MRA_HAVE_IO_URING
struct BatchIo::Ring {
  io_uring ring{};
};

BatchIo::BatchIo(bool useRing) {
  if (!useRing) return;
  auto r = std::make_unique<Ring>();
  if (io_uring_queue_init(kMaxBatch, &r->ring, 0) == 0) ring_ = std::move(r);
}

BatchIo::~BatchIo() {
  if (ring_) io_uring_queue_exit(&ring_->ring);
}
#else
struct BatchIo::Ring {};
BatchIo::BatchIo(bool) {}
BatchIo::~BatchIo() = default;
#endif

bool BatchIo::usesRing() const { return ring_ != nullptr; }

void BatchIo::send(const int* fds, msghdr* const* msgs, int* results, int n) { run(true, fds, msgs, results, n); }
void BatchIo::receive(const int* fds, msghdr* const* msgs, int* results, int n) { run(false, fds, msgs, results, n); }

void BatchIo::run(bool sending, const int* fds, msghdr* const* msgs, int* results, int n) {
#ifdef MRA_HAVE_IO_URING
  if (ring_ && n > 1) {
    io_uring* ring = &ring_->ring;
    int queued = 0;
    for (int i = 0; i < n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (!sqe) break;
      // MSG_DONTWAIT: a socket with nothing to read (or no room to send) completes at once with -EAGAIN instead
      // of waiting in the ring for later, so every buffer is free again when this returns.
      if (sending) io_uring_prep_sendmsg(sqe, fds[i], msgs[i], MSG_DONTWAIT);
      else io_uring_prep_recvmsg(sqe, fds[i], msgs[i], MSG_DONTWAIT);
      sqe->user_data = uint64_t(i);
      results[i] = -EINPROGRESS;
      ++queued;
    }
    int submitted;
    do submitted = io_uring_submit_and_wait(ring, unsigned(queued));
    while (submitted == -EINTR);
    if (submitted >= 0) {
      io_uring_cqe* cqe;
      unsigned head, seen = 0;
      io_uring_for_each_cqe(ring, head, cqe) {
        if (cqe->user_data < uint64_t(n)) results[cqe->user_data] = cqe->res;
        ++seen;
      }
      io_uring_cq_advance(ring, seen);
      // What did not get into the ring (it was full) or was not answered goes the plain way below.
      bool all = true;
      for (int i = 0; i < n; ++i) all = all && results[i] != -EINPROGRESS;
      if (all) return;
    }
    for (int i = 0; i < n; ++i) {
      if (results[i] != -EINPROGRESS) continue;
      const ssize_t r = sending ? ::sendmsg(fds[i], msgs[i], MSG_DONTWAIT) : ::recvmsg(fds[i], msgs[i], MSG_DONTWAIT);
      results[i] = r < 0 ? -errno : int(r);
    }
    return;
  }
#endif
  for (int i = 0; i < n; ++i) {
    const ssize_t r = sending ? ::sendmsg(fds[i], msgs[i], MSG_DONTWAIT) : ::recvmsg(fds[i], msgs[i], MSG_DONTWAIT);
    results[i] = r < 0 ? -errno : int(r);
  }
}

}  // namespace mra::turn
