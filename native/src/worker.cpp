#include "worker.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "packet_path.hpp"
#include "udp_socket.hpp"

namespace mra {

namespace {
constexpr int kTickMs = 100;
constexpr int kMaxEvents = 64;
}  // namespace

uint64_t monotonicMs() {
  // The coarse clock is a vDSO read with no syscall; millisecond precision is all timeouts need.
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

Worker::Worker(int index, EventSink sink, uint32_t authReportMs, uint32_t batchWaitUs,
               std::unique_ptr<KernelForwarding> kernel)
    : index_(index), sink_(std::move(sink)), authReportMs_(authReportMs), batchWaitUs_(batchWaitUs) {
  if (kernel && kernel->active()) kernel_ = std::move(kernel);
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  eventFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epollFd_ < 0 || eventFd_ < 0) throw std::runtime_error("cannot create the worker's epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // null marks the control eventfd
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, eventFd_, &ev);
  for (int i = 0; i < kBatch; ++i) {
    recvIov_[i] = {buffers_[i].data(), kMaxPacketSize};
    recvMsgs_[i].msg_hdr.msg_iov = &recvIov_[i];
    recvMsgs_[i].msg_hdr.msg_iovlen = 1;
    recvMsgs_[i].msg_hdr.msg_name = &recvAddrs_[i];
    sendMsgs_[i].msg_hdr.msg_iov = &sendIov_[i];
    sendMsgs_[i].msg_hdr.msg_iovlen = 1;
    sendMsgs_[i].msg_hdr.msg_name = &sendAddrs_[i];
    sendMsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
  }
}

Worker::~Worker() {
  stop();
  closeFd(epollFd_);
  closeFd(eventFd_);
}

void Worker::start() {
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  post([](Worker& w) { w.running_ = false; });
  thread_.join();
}

void Worker::post(Task task) {
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    queue_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  // A full eventfd counter still wakes the loop, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(eventFd_, &one, sizeof one);
}

void Worker::watch(SocketRef& ref) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &ref;
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, ref.fd, &ev);
}

void Worker::unwatch(SocketRef& ref) {
  if (ref.fd >= 0) ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, ref.fd, nullptr);
}

void Worker::addMuxPair(int rtpFd, int rtcpFd, int pairIndex) {
  MuxPair& p = muxPairs_[pairIndex];
  p.demux = std::make_unique<MuxDemux>();
  p.rtp = SocketRef{rtpFd, false, nullptr, p.demux.get()};
  p.rtcp = SocketRef{rtcpFd, true, nullptr, p.demux.get()};
  watch(p.rtp);
  watch(p.rtcp);
}

MuxDemux* Worker::mux(int pairIndex) {
  auto it = muxPairs_.find(pairIndex);
  return it == muxPairs_.end() ? nullptr : it->second.demux.get();
}

void Worker::attach(std::shared_ptr<Relay> relay) {
  for (Leg& leg : relay->legs) {
    leg.lastReceiveMs = nowMs_ ? nowMs_ : monotonicMs();
    if (!leg.config.mux) {
      watch(leg.rtpSocket);
      watch(leg.rtcpSocket);
      continue;
    }
    auto it = muxPairs_.find(leg.config.muxPair);
    if (it == muxPairs_.end()) continue;
    leg.rtpSocket.fd = it->second.rtp.fd;
    leg.rtcpSocket.fd = it->second.rtcp.fd;
    MuxDemux& demux = *it->second.demux;
    demux.addSource(leg.config.remoteRtp, &leg);
    if (!leg.config.rtcpMux) demux.addSource(leg.rtcpLatch.destination(), &leg);
    if (leg.config.haveSsrc) demux.addSsrc(leg.config.ssrc, &leg);
  }
  relays_[relay->id] = std::move(relay);
}

std::shared_ptr<Relay> Worker::detach(const std::string& id) {
  auto it = relays_.find(id);
  if (it == relays_.end()) return nullptr;
  std::shared_ptr<Relay> relay = std::move(it->second);
  relays_.erase(it);
  detachedThisTurn_ = true;
  if (kernel_) kernel_->release(*relay, nowMs_);
  for (Leg& leg : relay->legs) {
    if (leg.config.mux) {
      if (MuxDemux* d = mux(leg.config.muxPair)) d->removeLeg(&leg);
      leg.rtpSocket.fd = leg.rtcpSocket.fd = -1;  // shared: not ours to close
    } else {
      unwatch(leg.rtpSocket);
      unwatch(leg.rtcpSocket);
    }
  }
  return relay;
}

void Worker::drainControl() {
  uint64_t n;
  [[maybe_unused]] ssize_t r = ::read(eventFd_, &n, sizeof n);
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    tasks.swap(queue_);
  }
  for (Task& t : tasks) t(*this);
}

int Worker::readSocket(SocketRef& ref) {
  for (int i = 0; i < kBatch; ++i) recvMsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
  const int got = ::recvmmsg(ref.fd, recvMsgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (got <= 0) {
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) counters_.receiveErrors.add();
    return 0;
  }
  counters_.packetsIn.add(uint64_t(got));
  uint64_t bytes = 0;
  for (int i = 0; i < got; ++i) {
    PacketContext ctx;
    ctx.source = endpointOf(recvAddrs_[i]);
    ctx.onRtcpSocket = ref.rtcp;
    ctx.data = buffers_[i].data();
    ctx.length = recvMsgs_[i].msg_len;
    ctx.capacity = kPacketBufferSize;
    ctx.nowMs = nowMs_;
    bytes += ctx.length;
    if (recvMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) ctx.length = kMaxPacketSize + 1;  // classified invalid
    ctx.leg = ref.leg;
    if (ref.mux) {
      const bool longEnough = ctx.length >= 12 && ctx.length <= kMaxPacketSize;
      const uint32_t ssrc = longEnough ? readU32(ctx.data + (ctx.data[1] >= 192 && ctx.data[1] <= 223 ? 4 : 8)) : 0;
      ctx.leg = ref.mux->find(ctx.source, longEnough, ssrc);
      if (!ctx.leg) {
        counters_.unknownMux.add();
        continue;
      }
    }
    if (kernel_) kernel_->beforePacket(*ctx.leg, nowMs_);
    const Forward f = processPacket(ctx, pendingEvents_);
    if (kernel_) kernel_->afterPacket(ctx, f.fd >= 0, nowMs_);
    if (f.fd >= 0) queueSend(f, ctx.data, ctx.length);
  }
  counters_.bytesIn.add(bytes);
  flushSends();
  return got;
}

void Worker::queueSend(const Forward& f, uint8_t* data, size_t len) {
  const int i = sendCount_++;
  sendIov_[i] = {data, len};
  sendAddrs_[i] = sockaddrOf(f.to);
  sendFds_[i] = f.fd;
}

void Worker::flushSends() {
  // sendmmsg takes one socket: send each run of packets that share a socket in one call, in order.
  int start = 0;
  while (start < sendCount_) {
    int end = start + 1;
    while (end < sendCount_ && sendFds_[end] == sendFds_[start]) ++end;
    int done = start;
    while (done < end) {
      const int n = ::sendmmsg(sendFds_[start], &sendMsgs_[done], unsigned(end - done), MSG_DONTWAIT);
      if (n <= 0) {
        // Socket buffer full or the peer unreachable: drop the rest of this run rather than spin.
        counters_.sendErrors.add(uint64_t(end - done));
        break;
      }
      for (int k = done; k < done + n; ++k) counters_.bytesOut.add(sendIov_[k].iov_len);
      counters_.packetsOut.add(uint64_t(n));
      done += n;
    }
    start = end;
  }
  sendCount_ = 0;
}

void Worker::sendKeepalive(Leg& leg) {
  const Endpoint rtp = leg.rtpDestination();
  if (!rtp.valid()) return;  // nowhere to send yet: the tick after setRemote sends it
  auto send = [&](int fd, Endpoint to) {
    const sockaddr_in sa = sockaddrOf(to);
    if (::sendto(fd, "", 0, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) leg.counters.keepalivesOut.add();
  };
  send(leg.rtpSocket.fd, rtp);
  // RTCP has its own flow through the firewall unless it shares the RTP port.
  const Endpoint rtcp = leg.rtcpDestination();
  if (!leg.config.rtcpMux && rtcp.valid()) send(leg.rtcpSocket.fd, rtcp);
  leg.lastSendMs = nowMs_;
}

void Worker::kernelReset(Relay& relay, int leg, bool restartCount) {
  if (kernel_) kernel_->reset(relay, leg, restartCount, nowMs_ ? nowMs_ : monotonicMs());
}

void Worker::tick() {
  for (auto& [id, relay] : relays_) {
    // What the kernel forwarded counts as received and sent before timeouts and keepalives are judged.
    if (kernel_) kernel_->tick(*relay, nowMs_);
    for (Leg& leg : relay->legs) {
      if (!leg.timedOut && relay->timeoutMs > 0 && nowMs_ - leg.lastReceiveMs >= relay->timeoutMs) {
        leg.timedOut = true;
        emit(MediaEvent{MediaEvent::Type::Timeout, id, leg.index, false, {}, nowMs_ - leg.lastReceiveMs});
      }
      if (leg.config.keepaliveMs > 0 && nowMs_ - leg.lastSendMs >= leg.config.keepaliveMs) sendKeepalive(leg);
      if (leg.authFailuresPending > 0 && nowMs_ - leg.lastAuthReportMs >= authReportMs_) {
        emit(MediaEvent{MediaEvent::Type::AuthFailures, id, leg.index, false, {}, leg.authFailuresPending});
        leg.authFailuresPending = 0;
        leg.lastAuthReportMs = nowMs_;
      }
    }
  }
  if (kernel_) kernel_->endTick(nowMs_);
}

void Worker::run() {
  epoll_event events[kMaxEvents];
  while (running_) {
    const int n = ::epoll_wait(epollFd_, events, kMaxEvents, kTickMs);
    nowMs_ = monotonicMs();
    counters_.loops.add();
    // Control first, so a packet sent after a control call (keys, remote) is handled under it.
    for (int i = 0; i < n; ++i)
      if (events[i].data.ptr == nullptr) drainControl();
    // A detach may have closed a socket this turn's events point at: let level-triggered epoll report the
    // rest again next turn instead.
    int packets = 0;
    bool sockets = false;
    if (!detachedThisTurn_) {
      // One batch per ready socket per turn: a busy port cannot starve the others.
      for (int i = 0; i < n; ++i)
        if (events[i].data.ptr != nullptr) {
          sockets = true;
          packets += readSocket(*static_cast<SocketRef*>(events[i].data.ptr));
        }
    }
    detachedThisTurn_ = false;
    if (nowMs_ - lastTickMs_ >= kTickMs) {
      lastTickMs_ = nowMs_;
      tick();
    }
    if (!pendingEvents_.empty()) {
      sink_(std::move(pendingEvents_));
      pendingEvents_.clear();
    }
    // Interrupt moderation: a wake-up (epoll, scheduler, on a VM an exit) costs more than relaying a packet, so
    // after a light turn the next one waits a little and reads a batch instead of one packet per wake-up.
    // A busy worker (a full batch this turn) never waits; the wait adds at most batchWaitUs of latency.
    if (batchWaitUs_ > 0 && sockets && packets < kBatch) {
      timespec nap{0, long(batchWaitUs_) * 1000};
      ::nanosleep(&nap, nullptr);
    }
  }
}

}  // namespace mra
