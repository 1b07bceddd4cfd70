#include "turn/turn_worker.hpp"

#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "udp_socket.hpp"

namespace mra::turn {

namespace {

constexpr int kTickMs = 250;
constexpr int kMaxEvents = 64;

uint64_t clientKey(Endpoint e) { return (uint64_t(e.ip) << 16) | e.port; }

uint64_t clockMs(clockid_t id) {
  timespec ts;
  ::clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

void wr16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
void wr32(uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v); }

int listenSocket(int type, uint32_t ip, uint16_t port, bool shared, int buffer) {
  const int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  // TCP: a restart must not wait out TIME_WAIT. Not UDP, where SO_REUSEADDR would let a second server bind the
  // same port beside us and take part of our clients' packets.
  if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Only several threads of this server share the port; one thread keeps it to itself.
  if (shared) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (type == SOCK_DGRAM) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }
  sockaddr_in sa = sockaddrOf(Endpoint{ip, port});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (type == SOCK_STREAM && ::listen(fd, 1024) != 0)) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

uint16_t boundPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

}  // namespace

TurnWorker::TurnWorker(int index, TurnShared& shared, uint16_t port) : index_(index), shared_(shared) {
  epollFd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw std::runtime_error("cannot create the TURN thread's epoll");
  const bool sharedPort = shared.cfg.threads > 1;
  // Port 0 (tests): UDP takes any free port and TCP the same number, so that both are the one TURN port. A port
  // free for UDP may be one some TCP connection on the machine holds: then another, a few times.
  const int attempts = port == 0 && shared.cfg.tcp ? 32 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    udpFd_ = listenSocket(SOCK_DGRAM, shared.cfg.listenIp, port, sharedPort, shared.cfg.listenBuffer);
    if (udpFd_ < 0) {
      const std::string why = std::strerror(errno);
      closeFd(epollFd_);
      throw std::runtime_error("cannot open the TURN port " + std::to_string(port) + "/udp: " + why);
    }
    udpPort_ = boundPort(udpFd_);
    if (!shared.cfg.tcp) break;
    tcpFd_ = listenSocket(SOCK_STREAM, shared.cfg.listenIp, udpPort_, sharedPort, 0);
    if (tcpFd_ >= 0) {
      tcpPort_ = udpPort_;
      break;
    }
    const int saved = errno;
    closeFd(udpFd_);
    if (saved == EADDRINUSE && attempt + 1 < attempts) continue;
    closeFd(epollFd_);
    throw std::runtime_error("cannot open the TURN port " + std::to_string(udpPort_) + "/tcp: " + std::strerror(saved));
  }
  watch(control_.fd(), controlWatch_);
  watch(udpFd_, udpWatch_);
  if (tcpFd_ >= 0) watch(tcpFd_, tcpWatch_);
  for (int i = 0; i < kBatch; ++i) {
    recvMsgs_[i].msg_hdr.msg_iov = &recvIov_[i];
    recvMsgs_[i].msg_hdr.msg_iovlen = 1;
    recvMsgs_[i].msg_hdr.msg_name = &recvAddrs_[i];
  }
  sends_.reserve(kSlots + 16);
  sendMsgs_.resize(kSlots + 16);
}

TurnWorker::~TurnWorker() {
  stop();
  closeFd(udpFd_);
  closeFd(tcpFd_);
  closeFd(epollFd_);
}

void TurnWorker::start() {
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void TurnWorker::stop() {
  if (thread_.joinable()) {
    post([](TurnWorker& w) { w.running_ = false; });
    thread_.join();
  }
  // The thread is gone: end what is left here, so every port goes back to the pool.
  std::vector<Allocation*> left;
  for (auto& [p, a] : allocations_) left.push_back(p);
  for (Allocation* a : left) retire(a, counters_.allocationsClosed);
  std::vector<TcpConnection*> conns;
  for (auto& [p, c] : connections_) conns.push_back(p);
  for (TcpConnection* c : conns) retire(c);
  endTurn();
}

void TurnWorker::watch(int fd, Watch& w, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &w;
  ::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev);
}

void TurnWorker::unwatch(int fd) {
  if (fd >= 0) ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, fd, nullptr);
}

void TurnWorker::onUdpListener() {
  // The listening socket carries every client of this thread, a relay socket one allocation's peers: it gets up to
  // kListenerBatches batches a turn where a relay socket gets one, so that under load the clients' direction is
  // not starved by the peers' (each of thousands of relay sockets reading its batch every turn).
  for (int batch = 0; batch < kListenerBatches; ++batch) {
    const int room = std::min(kBatch, kSlots - slotsUsed_);
    for (int i = 0; i < room; ++i) {
      recvIov_[i] = {slots_[size_t(slotsUsed_ + i)].data() + kHeadroom, kMaxStunMessage};
      recvMsgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    const int got = ::recvmmsg(udpFd_, recvMsgs_.data(), unsigned(room), MSG_DONTWAIT, nullptr);
    if (got <= 0) return;
    const int first = slotsUsed_;
    slotsUsed_ += got;
    packetsThisTurn_ += got;
    for (int i = 0; i < got; ++i) {
      uint8_t* data = slots_[size_t(first + i)].data() + kHeadroom;
      if (recvMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
        counters_.tooBig.add();
        continue;
      }
      fromClient(data, recvMsgs_[i].msg_len, endpointOf(recvAddrs_[i]), nullptr, true);
    }
    if (kSlots - slotsUsed_ < kBatch) flushSends();
    if (got < room) return;
  }
}

void TurnWorker::fromClient(uint8_t* data, size_t length, Endpoint from, TcpConnection* tcp, bool datagram) {
  if (length < 4) {
    counters_.malformed.add();
    return;
  }
  switch (framingOf(data[0])) {
    case Framing::ChannelData:
      channelDataFromClient(data, length, findAllocation(from, tcp), datagram);
      return;
    case Framing::Stun: {
      StunView msg;
      const StunView::Problem problem = msg.parse(data, length, datagram);
      if (problem == StunView::Problem::None) return handleStun(msg, from, tcp);
      counters_.malformed.add();
      // A request whose header holds (a STUN message for us, then) but whose attributes do not is answered 400,
      // as coturn does; anything else malformed is dropped without an answer: it may not even be STUN.
      if ((problem == StunView::Problem::BadAttribute || problem == StunView::Problem::TooManyAttributes) &&
          msg.cls() == StunClass::Request)
        rejectMalformed(msg, from, tcp);
      return;
    }
    default:
      counters_.malformed.add();
  }
}

void TurnWorker::channelDataFromClient(uint8_t* data, size_t length, Allocation* a, bool datagram) {
  const uint16_t number = uint16_t((data[0] << 8) | data[1]);
  const size_t payload = size_t((data[2] << 8) | data[3]);
  // Over UDP the datagram may carry padding after the data (RFC 8656 §12.5); it must not be shorter.
  if (payload + 4 > length || (!datagram && ((payload + 3) & ~size_t(3)) + 4 != length)) {
    counters_.malformed.add();
    return;
  }
  if (!a) {
    counters_.noAllocation.add();
    return;
  }
  const Channel* c = a->channelByNumber(number);
  if (!c || c->expiresMs <= nowMs_) {
    counters_.noPermission.add();
    return;
  }
  queueToPeer(*a, data + 4, payload, c->peer);
}

void TurnWorker::queueToPeer(Allocation& a, uint8_t* data, size_t length, Endpoint peer) {
  sends_.push_back(Send{a.relayFd, {data, length}, sockaddrOf(peer)});
  counters_.toPeerPackets.add();
  counters_.toPeerBytes.add(length);
}

void TurnWorker::readRelays() {
  // One datagram from each ready relay socket, all in one system call (BatchIo); a socket with more is reported
  // again by the next epoll_wait (level-triggered), so a busy allocation cannot starve the others.
  size_t next = 0;
  while (next < readyRelays_.size()) {
    if (kSlots - slotsUsed_ < 1) flushSends();
    const int room = std::min(kSlots - slotsUsed_, BatchIo::kMaxBatch);
    Allocation* batch[BatchIo::kMaxBatch];
    int n = 0;
    for (; next < readyRelays_.size() && n < room; ++next) {
      Allocation* a = readyRelays_[next];
      if (a->ended) continue;
      const int slot = slotsUsed_ + n;
      relayIov_[size_t(slot)] = {slots_[size_t(slot)].data() + kHeadroom, kMaxRelayed};
      msghdr& m = relayMsgs_[size_t(slot)];
      m = msghdr{};
      m.msg_iov = &relayIov_[size_t(slot)];
      m.msg_iovlen = 1;
      m.msg_name = &relayAddrs_[size_t(slot)];
      m.msg_namelen = sizeof(sockaddr_in);
      batchMsgs_[size_t(n)] = &m;
      batchFds_[size_t(n)] = a->relayFd;
      batch[n++] = a;
    }
    if (n == 0) break;
    io_.receive(batchFds_.data(), batchMsgs_.data(), batchResults_.data(), n);
    const int first = slotsUsed_;
    slotsUsed_ += n;
    for (int k = 0; k < n; ++k) {
      const int got = batchResults_[size_t(k)];
      if (got < 0) {
        if (got != -EAGAIN && got != -EWOULDBLOCK) counters_.receiveErrors.add();
        continue;
      }
      ++packetsThisTurn_;
      // A datagram that filled the buffer may have been cut: too big to be media.
      if (size_t(got) >= kMaxRelayed) {
        counters_.tooBig.add();
        continue;
      }
      const Endpoint peer = endpointOf(relayAddrs_[size_t(first + k)]);
      if (!batch[k]->permitted(peer.ip, nowMs_)) {
        counters_.noPermission.add();
        continue;
      }
      relayToClient(*batch[k], slots_[size_t(first + k)].data() + kHeadroom, size_t(got), peer);
    }
    if (kSlots - slotsUsed_ < kBatch) flushSends();
  }
  readyRelays_.clear();
}

void TurnWorker::relayToClient(Allocation& a, uint8_t* data, size_t length, Endpoint peer) {
  const bool stream = a.tcp != nullptr;
  const Channel* c = a.channelByPeer(peer);
  uint8_t* start;
  size_t total;
  if (c && c->expiresMs > nowMs_) {
    start = data - 4;
    wr16(start, c->number);
    wr16(start + 2, uint16_t(length));
    total = 4 + length;
    if (stream) {
      // Over TCP ChannelData is padded to four bytes (RFC 8656 §12.5).
      const size_t pad = ((length + 3) & ~size_t(3)) - length;
      std::memset(data + length, 0, pad);
      total += pad;
    }
  } else {
    // A Data indication (RFC 8656 §11.4): XOR-PEER-ADDRESS and DATA, no integrity.
    start = data - 36;
    const size_t pad = ((length + 3) & ~size_t(3)) - length;
    std::memset(data + length, 0, pad);
    wr16(start, messageType(method::Data, StunClass::Indication));
    wr16(start + 2, uint16_t(16 + length + pad));
    wr32(start + 4, kMagicCookie);
    // Indications need no unpredictable id (nothing answers them): a counter and the thread keep them unique.
    const uint64_t seq = ++indicationSeq_;
    wr32(start + 8, uint32_t(index_));
    wr32(start + 12, uint32_t(seq >> 32));
    wr32(start + 16, uint32_t(seq));
    wr16(start + 20, attr::XorPeerAddress);
    wr16(start + 22, 8);
    start[24] = 0, start[25] = 0x01;
    wr16(start + 26, uint16_t(peer.port ^ (kMagicCookie >> 16)));
    wr32(start + 28, peer.ip ^ kMagicCookie);
    wr16(start + 32, attr::Data);
    wr16(start + 34, uint16_t(length));
    total = 36 + length + pad;
  }
  counters_.toClientPackets.add();
  counters_.toClientBytes.add(length);
  sendToClient(a.client, a.tcp, start, total);
}

void TurnWorker::sendToClient(Endpoint to, TcpConnection* tcp, uint8_t* data, size_t length) {
  if (!tcp) {
    sends_.push_back(Send{udpFd_, {data, length}, sockaddrOf(to)});
    return;
  }
  if (tcp->closing) return;
  if (!tcp->queue(data, length)) {
    counters_.sendErrors.add();
    return;
  }
  if (tcp->out.size() == length) tcpDirty_.push_back(tcp);
}

void TurnWorker::flushSends() {
  // sendmmsg takes one socket: each run of sends sharing one goes in one call. Toward clients they all share the
  // listening socket; toward peers each allocation has its own.
  const size_t n = sends_.size();
  for (size_t i = 0; i < n; ++i) {
    mmsghdr& m = sendMsgs_[i];
    m = mmsghdr{};
    m.msg_hdr.msg_iov = &sends_[i].iov;
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_name = &sends_[i].to;
    m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
  }
  // Toward peers each datagram has a socket of its own: they go in BatchIo batches, one system call for many.
  int batched = 0;
  auto sendBatch = [&] {
    io_.send(batchFds_.data(), batchMsgs_.data(), batchResults_.data(), batched);
    for (int k = 0; k < batched; ++k)
      if (batchResults_[size_t(k)] < 0) counters_.sendErrors.add();
    batched = 0;
  };
  size_t start = 0;
  while (start < n) {
    size_t end = start + 1;
    while (end < n && sends_[end].fd == sends_[start].fd) ++end;
    if (sends_[start].fd != udpFd_) {
      for (size_t i = start; i < end; ++i) {
        batchFds_[size_t(batched)] = sends_[i].fd;
        batchMsgs_[size_t(batched)] = &sendMsgs_[i].msg_hdr;
        if (++batched == BatchIo::kMaxBatch) sendBatch();
      }
      start = end;
      continue;
    }
    size_t done = start;
    while (done < end) {
      const int sent = ::sendmmsg(sends_[start].fd, &sendMsgs_[done], unsigned(end - done), MSG_DONTWAIT);
      if (sent <= 0) {
        counters_.sendErrors.add(end - done);
        break;
      }
      done += size_t(sent);
    }
    start = end;
  }
  if (batched > 0) sendBatch();
  sends_.clear();
  slotsUsed_ = 0;
  for (TcpConnection* c : tcpDirty_) flushTcp(*c);
  tcpDirty_.clear();
}

void TurnWorker::flushTcp(TcpConnection& c) {
  if (c.closing || c.out.empty()) return;
  const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    retire(&c);
    return;
  }
  if (n > 0) c.out.erase(c.out.begin(), c.out.begin() + n);
  const bool want = !c.out.empty();
  if (want != c.writeArmed) {
    epoll_event ev{};
    ev.events = want ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
    ev.data.ptr = &c.watch;
    ::epoll_ctl(epollFd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.writeArmed = want;
  }
}

void TurnWorker::onTcpListener() {
  for (int i = 0; i < 16; ++i) {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    const int fd = ::accept4(tcpFd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (shared_.tcpConnections.fetch_add(1) >= shared_.cfg.maxTcpConnections) {
      shared_.tcpConnections.fetch_sub(1);
      ::close(fd);
      counters_.capacityRefusals.add();
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<TcpConnection>(fd, endpointOf(sa), nowMs_);
    watch(fd, conn->watch);
    counters_.tcpAccepted.add();
    connections_[conn.get()] = std::move(conn);
  }
}

void TurnWorker::onTcpReadable(TcpConnection& c) {
  for (int reads = 0; reads < 4 && !c.closing; ++reads) {
    const ssize_t n = ::recv(c.fd, c.in.data() + c.inLength, c.in.size() - c.inLength, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      retire(&c);
      return;
    }
    if (n < 0) return;
    c.inLength += size_t(n);
    c.lastActivityMs = nowMs_;
    for (;;) {
      const size_t frame = c.frameLength();
      if (frame == 0) break;
      if (frame == SIZE_MAX) {
        counters_.malformed.add();
        retire(&c);  // not TURN: there is no resynchronising a byte stream
        return;
      }
      // Frames are handled from a slot with headroom, as datagrams are, so relaying works in place.
      if (kSlots - slotsUsed_ < 1) flushSends();
      uint8_t* data = slots_[size_t(slotsUsed_++)].data() + kHeadroom;
      std::memcpy(data, c.in.data(), frame);
      c.consume(frame);
      fromClient(data, frame, c.remote, &c, false);
      if (c.closing) return;
    }
    if (size_t(n) < c.in.size()) return;
  }
}

void TurnWorker::onTcpWritable(TcpConnection& c) { flushTcp(c); }

Allocation* TurnWorker::findAllocation(Endpoint from, TcpConnection* tcp) {
  if (tcp) return tcp->allocation;
  auto it = byClient_.find(clientKey(from));
  return it == byClient_.end() ? nullptr : it->second;
}

void TurnWorker::retire(Allocation* a, Counter& why) {
  auto it = allocations_.find(a);
  if (it == allocations_.end()) return;
  why.add();
  a->ended = true;
  if (a->tcp) a->tcp->allocation = nullptr;
  else byClient_.erase(clientKey(a->client));
  permissions_ -= uint32_t(a->permissions.size());
  channels_ -= uint32_t(a->channels.size());
  retiredAllocations_.push_back(std::move(it->second));
  allocations_.erase(it);
  refreshGauges();
}

void TurnWorker::retire(TcpConnection* c) {
  auto it = connections_.find(c);
  if (it == connections_.end()) return;
  c->closing = true;
  // RFC 8656 §3.1: the allocation ends with its TCP connection.
  if (c->allocation) retire(c->allocation, counters_.allocationsClosed);
  counters_.tcpClosed.add();
  shared_.tcpConnections.fetch_sub(1);
  retiredConnections_.push_back(std::move(it->second));
  connections_.erase(it);
  refreshGauges();
}

void TurnWorker::endTurn() {
  flushSends();
  // Only now, with nothing queued that names them, do retired sockets close and their ports go back.
  for (auto& a : retiredAllocations_) {
    unwatch(a->relayFd);
    shared_.ports.close(a->relayFd, a->relayPort);
    shared_.quota.give(a->user);
  }
  retiredAllocations_.clear();
  for (auto& c : retiredConnections_) {
    unwatch(c->fd);
    closeFd(c->fd);
  }
  retiredConnections_.clear();
}

void TurnWorker::refreshGauges() {
  counters_.allocations.set(allocations_.size());
  counters_.permissions.set(permissions_);
  counters_.channels.set(channels_);
  counters_.tcpConnections.set(connections_.size());
}

void TurnWorker::tick() {
  shared_.ports.expireReservations(nowMs_);
  std::vector<Allocation*> expired;
  for (auto& [p, a] : allocations_) {
    if (a->expiresMs <= nowMs_) {
      expired.push_back(p);
      continue;
    }
    const size_t perms = a->permissions.size(), chans = a->channels.size();
    auto& ps = a->permissions;
    ps.erase(std::remove_if(ps.begin(), ps.end(), [&](const Permission& x) { return x.expiresMs <= nowMs_; }), ps.end());
    auto& cs = a->channels;
    cs.erase(std::remove_if(cs.begin(), cs.end(), [&](const Channel& x) { return x.expiresMs <= nowMs_; }), cs.end());
    permissions_ -= uint32_t(perms - a->permissions.size());
    channels_ -= uint32_t(chans - a->channels.size());
  }
  for (Allocation* a : expired) retire(a, counters_.allocationsExpired);
  std::vector<TcpConnection*> idle;
  for (auto& [p, c] : connections_)
    if (!c->allocation && nowMs_ - c->lastActivityMs >= uint64_t(shared_.cfg.tcpIdleS) * 1000) idle.push_back(p);
  for (TcpConnection* c : idle) retire(c);
  refreshGauges();
}

void TurnWorker::run() {
  epoll_event events[kMaxEvents];
  while (running_) {
    const int n = ::epoll_wait(epollFd_, events, kMaxEvents, kTickMs);
    nowMs_ = clockMs(CLOCK_MONOTONIC_COARSE);
    nowS_ = clockMs(CLOCK_REALTIME_COARSE) / 1000;
    packetsThisTurn_ = 0;
    for (int i = 0; i < n; ++i) {
      Watch* w = static_cast<Watch*>(events[i].data.ptr);
      switch (w->kind) {
        case Watch::Kind::Control: control_.drain(*this); break;
        case Watch::Kind::UdpListener: onUdpListener(); break;
        case Watch::Kind::TcpListener: onTcpListener(); break;
        case Watch::Kind::Relay:
          // Read together after this turn's other events (readRelays), unless the allocation ends before that.
          readyRelays_.push_back(static_cast<Allocation*>(w->owner));
          break;
        case Watch::Kind::TcpConnection: {
          TcpConnection* c = static_cast<TcpConnection*>(w->owner);
          if (c->closing) break;
          if (events[i].events & (EPOLLERR | EPOLLHUP)) {
            if (!(events[i].events & EPOLLIN)) {
              retire(c);
              break;
            }
          }
          if (events[i].events & EPOLLOUT) onTcpWritable(*c);
          if (!c->closing && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) onTcpReadable(*c);
          break;
        }
      }
    }
    readRelays();
    if (nowMs_ - lastTickMs_ >= kTickMs) {
      lastTickMs_ = nowMs_;
      tick();
    }
    endTurn();
    // As the media workers do: after a light turn, nap so the next turn reads a batch rather than one packet.
    if (shared_.cfg.batchWaitUs > 0 && packetsThisTurn_ > 0 && packetsThisTurn_ < kBatch) {
      timespec nap{0, long(shared_.cfg.batchWaitUs) * 1000};
      ::nanosleep(&nap, nullptr);
    }
  }
}

}  // namespace mra::turn
