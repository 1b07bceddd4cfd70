// One media thread: an epoll loop over the sockets it owns, recvmmsg/sendmmsg in batches, no lock on the
// packet path. Control work arrives as closures through a queue and an eventfd (mediasoup's channel, in-process).
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "counters.hpp"
#include "kernel_forwarding.hpp"
#include "media_event.hpp"
#include "mux_demux.hpp"
#include "relay.hpp"
#include "rtp_packet.hpp"

namespace mra {

struct WorkerCounters {
  Counter packetsIn, bytesIn, packetsOut, bytesOut, unknownMux, receiveErrors, sendErrors, loops;
};

class Worker {
 public:
  using Task = std::function<void(Worker&)>;
  static constexpr int kBatch = 32;

  // `kernel`: this worker's share of the kernel path (null: user space only).
  Worker(int index, EventSink sink, uint32_t authReportMs, uint32_t batchWaitUs = 0,
         std::unique_ptr<KernelForwarding> kernel = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();  // joins; sockets still registered are closed by their owners afterwards
  void post(Task task);

  // Worker thread only (from posted tasks):
  void addMuxPair(int rtpFd, int rtcpFd, int pairIndex);
  MuxDemux* mux(int pairIndex);
  void attach(std::shared_ptr<Relay> relay);  // registers its sockets and mux sources
  std::shared_ptr<Relay> detach(const std::string& id);
  void emit(MediaEvent ev) { pendingEvents_.push_back(std::move(ev)); }
  // Keys or a remote of `leg` changed: the relay's streams leave the kernel; a new remote restarts the count.
  void kernelReset(Relay& relay, int leg, bool restartCount);

  int index() const { return index_; }
  const WorkerCounters& counters() const { return counters_; }
  // Installs, removals and refusals of kernel flows (all zero without a kernel path).
  const KernelCounters& kernelCounters() const { return kernel_ ? kernel_->counters() : noKernel_; }

 private:
  struct MuxPair {
    std::unique_ptr<MuxDemux> demux;
    SocketRef rtp, rtcp;
  };

  void run();
  void watch(SocketRef& ref);
  void unwatch(SocketRef& ref);
  void drainControl();
  int readSocket(SocketRef& ref);  // packets read
  void queueSend(const Forward& f, uint8_t* data, size_t len);
  void flushSends();
  void tick();
  void sendKeepalive(Leg& leg);

  int index_;
  EventSink sink_;
  uint32_t authReportMs_;
  uint32_t batchWaitUs_;
  int epollFd_ = -1;
  int eventFd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::mutex queueMutex_;
  std::vector<Task> queue_;
  std::unordered_map<std::string, std::shared_ptr<Relay>> relays_;
  std::unordered_map<int, MuxPair> muxPairs_;
  EventBatch pendingEvents_;
  uint64_t nowMs_ = 0;
  uint64_t lastTickMs_ = 0;
  bool detachedThisTurn_ = false;
  WorkerCounters counters_;
  std::unique_ptr<KernelForwarding> kernel_;
  KernelCounters noKernel_;

  // Batch buffers, reused every turn: the receive buffers double as send buffers (forwarding is in place).
  std::array<std::array<uint8_t, kPacketBufferSize>, kBatch> buffers_{};
  std::array<mmsghdr, kBatch> recvMsgs_{};
  std::array<iovec, kBatch> recvIov_{};
  std::array<sockaddr_in, kBatch> recvAddrs_{};
  std::array<mmsghdr, kBatch> sendMsgs_{};
  std::array<iovec, kBatch> sendIov_{};
  std::array<sockaddr_in, kBatch> sendAddrs_{};
  std::array<int, kBatch> sendFds_{};
  int sendCount_ = 0;
};

uint64_t monotonicMs();

}  // namespace mra
