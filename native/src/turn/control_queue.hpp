// Closures posted to a thread that owns an epoll loop (mediasoup's channel, in-process): a locked queue and an
// eventfd the loop watches. The TURN threads use it; the media workers' own copy (worker.cpp) predates it.
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace mra::turn {

template <class Owner>
class ControlQueue {
 public:
  using Task = std::function<void(Owner&)>;

  ControlQueue() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error("cannot create an eventfd");
  }
  ~ControlQueue() { ::close(fd_); }
  ControlQueue(const ControlQueue&) = delete;
  ControlQueue& operator=(const ControlQueue&) = delete;

  int fd() const { return fd_; }

  void post(Task task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    const uint64_t one = 1;
    // A full eventfd counter still wakes the loop, so a failed write loses nothing.
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  }

  // On the owning thread, when epoll says fd() is readable.
  void drain(Owner& owner) {
    uint64_t n;
    [[maybe_unused]] ssize_t r = ::read(fd_, &n, sizeof n);
    std::vector<Task> tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks.swap(tasks_);
    }
    for (Task& t : tasks) t(owner);
  }

 private:
  int fd_;
  std::mutex mutex_;
  std::vector<Task> tasks_;
};

}  // namespace mra::turn
