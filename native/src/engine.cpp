#include "engine.hpp"

#include <cerrno>
#include <cstring>
#include <chrono>
#include <future>

namespace mra {

namespace {

constexpr int kBindAttempts = 64;

uint64_t sourceKey(Endpoint e) { return (uint64_t(e.ip) << 16) | e.port; }

Endpoint rtcpHint(const LegConfig& cfg) {
  if (cfg.rtcpMux || cfg.remoteRtcp.valid()) return cfg.rtcpMux ? cfg.remoteRtp : cfg.remoteRtcp;
  Endpoint e = cfg.remoteRtp;
  if (e.valid()) e.port = uint16_t(e.port + 1);
  return e;
}

}  // namespace

Engine::Engine(EngineConfig cfg, EventSink sink) : cfg_(cfg), sink_(std::move(sink)) {
  if (cfg_.workers < 1 || cfg_.workers > 64) throw EngineTypeError("workers must be between 1 and 64");
  if (cfg_.muxPairs < 0 || cfg_.muxPairs > 64) throw EngineTypeError("muxPairs must be between 0 and 64");
  if (cfg_.portMin % 2 != 0) throw EngineTypeError("portMin must be even (RTP even, RTCP odd)");
  const uint32_t externalFirst = uint32_t(cfg_.portMin) + 2u * uint32_t(cfg_.muxPairs);
  if (cfg_.portMin == 0 || externalFirst + 1 > cfg_.portMax)
    throw EngineTypeError("port range " + std::to_string(cfg_.portMin) + "-" + std::to_string(cfg_.portMax) +
                          " leaves no room for external legs above the mux ports");
  initSrtpLibrary();
  pool_ = std::make_shared<PortPool>(uint16_t(externalFirst), cfg_.portMax);
  // Two received streams per relay at most, and a relay holds an own pair or a mux source: a slot for each leg
  // that could exist, shared out between the workers.
  const uint32_t legs = 2 * (uint32_t(pool_->capacity()) + 64u * uint32_t(cfg_.muxPairs));
  const uint32_t perWorker = (legs + uint32_t(cfg_.workers) - 1) / uint32_t(cfg_.workers);
  kernel_ = std::make_shared<KernelPath>(KernelPathConfig{cfg_.kernelPath, perWorker * uint32_t(cfg_.workers), cfg_.sockets.bindIp});
  for (int i = 0; i < cfg_.workers; ++i) {
    auto share = std::make_unique<KernelForwarding>(kernel_, uint32_t(i) * perWorker, perWorker, cfg_.kernelAfterPackets, cfg_.sockets.bindIp);
    workers_.push_back(std::make_unique<Worker>(i, sink_, cfg_.authReportMs, cfg_.batchWaitUs, std::move(share)));
  }
  for (int p = 0; p < cfg_.muxPairs; ++p) {
    int rtp = -1, rtcp = -1;
    const uint16_t port = uint16_t(cfg_.portMin + 2 * p);
    if (!openUdpPair(cfg_.sockets, port, rtp, rtcp)) {
      const std::string why = std::strerror(errno);
      for (auto& fds : muxFds_) closeFd(fds[0]), closeFd(fds[1]);
      throw EngineError("cannot open mux ports " + std::to_string(port) + "/" + std::to_string(port + 1) + ": " + why);
    }
    muxFds_.push_back({rtp, rtcp});
    workers_[size_t(p % cfg_.workers)]->post([rtp, rtcp, p](Worker& w) { w.addMuxPair(rtp, rtcp, p); });
  }
  for (auto& w : workers_) w->start();
}

Engine::~Engine() { stop(); }

void Engine::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& w : workers_) w->stop();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, relay] : relays_) releaseSockets(*relay);
  relays_.clear();
  for (auto& fds : muxFds_) closeFd(fds[0]), closeFd(fds[1]);
}

void Engine::openLeg(Leg& leg, const LegConfig& cfg, int index, Relay* relay) {
  leg.relay = relay;
  leg.index = uint8_t(index);
  leg.config = cfg;
  LatchConfig latch = cfg_.latch;
  latch.enabled = cfg.latch && !cfg.mux;
  leg.rtpLatch = Latch(latch);
  leg.rtcpLatch = Latch(latch);
  leg.rtpLatch.setHint(cfg.remoteRtp);
  leg.rtcpLatch.setHint(rtcpHint(cfg));
  leg.haveSsrc = cfg.haveSsrc;
  leg.ssrc = cfg.ssrc;
  if (cfg.mux) {
    leg.port = uint16_t(cfg_.portMin + 2 * cfg.muxPair);
    return;
  }
  if (cfg.port != 0) {
    openExactLeg(leg, cfg);
    return;
  }
  // Ports another process holds stay reserved until we have found a free pair, then go back to the pool.
  std::vector<uint16_t> busy;
  int lastErrno = 0;
  for (int attempt = 0; attempt < kBindAttempts; ++attempt) {
    const std::optional<uint16_t> port = pool_->takePair();
    if (!port) break;
    int rtp = -1, rtcp = -1;
    if (openUdpPair(cfg_.sockets, *port, rtp, rtcp)) {
      leg.port = *port;
      leg.rtpSocket = SocketRef{rtp, false, &leg, nullptr};
      leg.rtcpSocket = SocketRef{rtcp, true, &leg, nullptr};
      break;
    }
    lastErrno = errno;
    busy.push_back(*port);
    if (lastErrno != EADDRINUSE) break;
  }
  for (uint16_t p : busy) pool_->releasePair(p);
  if (leg.port == 0) {
    throw EngineError(lastErrno && lastErrno != EADDRINUSE
                          ? std::string("cannot open media ports: ") + std::strerror(lastErrno)
                          : "media port range exhausted (" + std::to_string(pool_->capacity()) + " pairs in use)");
  }
}

void Engine::openExactLeg(Leg& leg, const LegConfig& cfg) {
  SocketOptions at = cfg_.sockets;
  if (cfg.bindIp != 0) at.bindIp = cfg.bindIp;
  const std::string where = formatIpv4(at.bindIp) + ":" + std::to_string(cfg.port) + "/" + std::to_string(cfg.port + 1);
  if (!pool_->takeSpecific(cfg.port)) throw EngineError("media ports " + where + " are in use by another relay");
  int rtp = -1, rtcp = -1;
  if (!openUdpPair(at, cfg.port, rtp, rtcp)) {
    const std::string why = std::strerror(errno);
    pool_->releasePair(cfg.port);
    throw EngineError("cannot open media ports " + where + ": " + why);
  }
  leg.port = cfg.port;
  leg.rtpSocket = SocketRef{rtp, false, &leg, nullptr};
  leg.rtcpSocket = SocketRef{rtcp, true, &leg, nullptr};
}

void Engine::releaseSockets(Relay& relay) {
  for (Leg& leg : relay.legs) {
    if (leg.config.mux || leg.port == 0) continue;
    closeFd(leg.rtpSocket.fd);
    closeFd(leg.rtcpSocket.fd);
    pool_->releasePair(leg.port);
    leg.port = 0;
  }
}

RelayPorts Engine::createRelay(const RelayConfig& cfgIn) {
  RelayConfig cfg = cfgIn;
  if (cfg.id.empty()) throw EngineTypeError("relay id must not be empty");
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopped_) throw EngineError("media engine is closed");
  if (relays_.count(cfg.id)) throw EngineError("relay '" + cfg.id + "' already exists");
  int worker = -1;
  for (int i = 0; i < 2; ++i) {
    LegConfig& leg = cfg.legs[size_t(i)];
    if (!leg.mux) continue;
    if (cfg_.muxPairs == 0) throw EngineError("this engine has no mux ports");
    if (leg.muxPair < 0) leg.muxPair = int(nextMux_++ % size_t(cfg_.muxPairs));
    if (leg.muxPair >= cfg_.muxPairs) throw EngineTypeError("muxPair " + std::to_string(leg.muxPair) + " does not exist");
    if (!leg.remoteRtp.valid()) throw EngineTypeError("a mux leg needs the remote address it is demultiplexed by");
    const int owner = leg.muxPair % cfg_.workers;
    if (worker >= 0 && worker != owner) throw EngineError("both mux legs must be on pairs of the same worker");
    worker = owner;
    const auto rtpKey = std::make_pair(leg.muxPair, sourceKey(leg.remoteRtp));
    const auto rtcpKey = std::make_pair(leg.muxPair, sourceKey(rtcpHint(leg)));
    if (muxSources_.count(rtpKey) || (!leg.rtcpMux && muxSources_.count(rtcpKey)))
      throw EngineError("another relay already receives from " + formatIpv4(leg.remoteRtp.ip) + ":" +
                        std::to_string(leg.remoteRtp.port) + " on mux pair " + std::to_string(leg.muxPair));
  }
  if (worker < 0) worker = int(nextWorker_++ % workers_.size());

  auto relay = std::make_shared<Relay>();
  relay->id = cfg.id;
  relay->worker = worker;
  relay->timeoutMs = cfg.timeoutMs.value_or(cfg_.timeoutMs);
  try {
    for (int i = 0; i < 2; ++i) openLeg(relay->legs[size_t(i)], cfg.legs[size_t(i)], i, relay.get());
  } catch (...) {
    releaseSockets(*relay);
    throw;
  }
  for (const Leg& leg : relay->legs) {
    if (!leg.config.mux) continue;
    muxSources_.emplace(leg.config.muxPair, sourceKey(leg.config.remoteRtp));
    if (!leg.config.rtcpMux) muxSources_.emplace(leg.config.muxPair, sourceKey(leg.rtcpLatch.destination()));
  }
  relays_[cfg.id] = relay;
  workers_[size_t(worker)]->post([relay](Worker& w) { w.attach(relay); });
  return RelayPorts{worker, {relay->legs[0].port, relay->legs[1].port}};
}

std::shared_ptr<Relay> Engine::lookup(const std::string& id) const {
  auto it = relays_.find(id);
  if (it == relays_.end()) throw EngineError("no relay '" + id + "'");
  return it->second;
}

void Engine::setKeys(const std::string& id, int leg, const std::optional<KeySpec>& in,
                     const std::optional<KeySpec>& out) {
  if (leg < 0 || leg > 1) throw EngineTypeError("leg must be 0 (A) or 1 (B)");
  auto make = [](const std::optional<KeySpec>& k, SrtpSession::Direction d) -> std::shared_ptr<SrtpSession> {
    if (!k) return nullptr;
    const SrtpSuiteInfo* suite = findSrtpSuite(k->suite);
    if (!suite) throw EngineTypeError("unknown SRTP suite '" + k->suite + "'");
    try {
      return std::make_shared<SrtpSession>(*suite, k->keySalt.data(), k->keySalt.size(), d, k->resume);
    } catch (const std::invalid_argument& e) {
      throw EngineTypeError(e.what());
    }
  };
  std::lock_guard<std::mutex> lock(mutex_);
  auto relay = lookup(id);
  // A direction whose key is unchanged keeps its session; only a new (or removed) key replaces one.
  const bool newIn = !(relay->keyIn[size_t(leg)] == in);
  const bool newOut = !(relay->keyOut[size_t(leg)] == out);
  if (!newIn && !newOut) return;
  // The sessions are built here, off the packet path; the worker only swaps pointers.
  auto inSession = newIn ? make(in, SrtpSession::Direction::Inbound) : nullptr;
  auto outSession = newOut ? make(out, SrtpSession::Direction::Outbound) : nullptr;
  relay->keyIn[size_t(leg)] = in;
  relay->keyOut[size_t(leg)] = out;
  // A key that really changed takes the stream back from the kernel (an unchanged one returned above): a keyed leg
  // never qualifies again, and a key removed lets it re-qualify from its next packets in user space.
  workers_[size_t(relay->worker)]->post([relay, leg, newIn, newOut, inSession, outSession](Worker& w) {
    Leg& l = relay->legs[size_t(leg)];
    if (newIn) l.srtpIn = inSession;
    if (newOut) l.srtpOut = outSession;
    w.kernelReset(*relay, leg, false);
  });
}

void Engine::setRemote(const std::string& id, int leg, Endpoint rtp, Endpoint rtcp) {
  if (leg < 0 || leg > 1) throw EngineTypeError("leg must be 0 (A) or 1 (B)");
  if (!rtp.valid()) throw EngineTypeError("remote RTP port must not be 0");
  std::lock_guard<std::mutex> lock(mutex_);
  auto relay = lookup(id);
  const LegConfig& current = relay->legs[size_t(leg)].config;
  if (current.mux) throw EngineError("a mux leg's remote is its demux key, fixed at creation");
  LegConfig hint = current;
  hint.remoteRtp = rtp;
  hint.remoteRtcp = rtcp;
  const Endpoint rtcpTo = rtcpHint(hint);
  workers_[size_t(relay->worker)]->post([relay, leg, rtp, rtcpTo](Worker& w) {
    Leg& l = relay->legs[size_t(leg)];
    w.kernelReset(*relay, leg, true);  // before the latch forgets the source its flow is keyed by
    l.rtpLatch.setHint(rtp);
    l.rtcpLatch.setHint(rtcpTo);
    l.lastSendMs = 0;  // a new remote gets a keepalive at the next tick, before any media
  });
}

void Engine::setRtcpMux(const std::string& id, int leg, bool rtcpMux) {
  if (leg < 0 || leg > 1) throw EngineTypeError("leg must be 0 (A) or 1 (B)");
  std::lock_guard<std::mutex> lock(mutex_);
  auto relay = lookup(id);
  if (relay->legs[size_t(leg)].config.mux) throw EngineError("a mux leg's rtcp-mux is part of its demux key, fixed at creation");
  workers_[size_t(relay->worker)]->post([relay, leg, rtcpMux](Worker&) { relay->legs[size_t(leg)].config.rtcpMux = rtcpMux; });
}

bool Engine::destroyRelay(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return false;
  auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  std::shared_ptr<Relay> relay = std::move(it->second);
  relays_.erase(it);
  for (const Leg& leg : relay->legs) {
    if (!leg.config.mux) continue;
    muxSources_.erase({leg.config.muxPair, sourceKey(leg.config.remoteRtp)});
    if (!leg.config.rtcpMux) muxSources_.erase({leg.config.muxPair, sourceKey(leg.rtcpLatch.destination())});
  }
  workers_[size_t(relay->worker)]->post([this, id](Worker& w) {
    std::shared_ptr<Relay> r = w.detach(id);
    if (!r) return;
    releaseSockets(*r);
    w.emit(MediaEvent{MediaEvent::Type::Closed, id, 0, false, {}, 0});
  });
  return true;
}

std::optional<std::array<LegSrtpIndices, 2>> Engine::srtpIndices(const std::string& id) {
  std::shared_ptr<Relay> relay;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return std::nullopt;
    auto it = relays_.find(id);
    if (it == relays_.end()) return std::nullopt;
    relay = it->second;
  }
  // The sessions' counts belong to the worker's thread: asked there, after what it had queued for this relay.
  auto done = std::make_shared<std::promise<std::array<LegSrtpIndices, 2>>>();
  std::future<std::array<LegSrtpIndices, 2>> result = done->get_future();
  workers_[size_t(relay->worker)]->post([relay, done](Worker&) {
    std::array<LegSrtpIndices, 2> out;
    for (size_t i = 0; i < 2; ++i) {
      const Leg& l = relay->legs[i];
      if (l.srtpIn) out[i].in = l.srtpIn->indices();
      if (l.srtpOut) out[i].out = l.srtpOut->indices();
    }
    done->set_value(std::move(out));
  });
  if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
    throw EngineError("relay '" + id + "': its worker did not answer for its SRTP counters");
  return result.get();
}

std::shared_ptr<const Relay> Engine::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = relays_.find(id);
  return it == relays_.end() ? nullptr : it->second;
}

std::optional<std::array<LegSnapshot, 2>> Engine::snapshot(const std::string& id) const {
  std::shared_ptr<const Relay> relay = find(id);
  if (!relay) return std::nullopt;
  return snapshotRelay(*relay, kernel_.get());
}

std::vector<std::string> Engine::relayIds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, relay] : relays_) ids.push_back(id);
  return ids;
}

EngineInfo Engine::info() const {
  EngineInfo out;
  out.srtpBackend = srtpBackend();
  out.srtpSuites = availableSrtpSuites();
  out.workers = int(workers_.size());
  for (int p = 0; p < cfg_.muxPairs; ++p) out.muxPorts.push_back(uint16_t(cfg_.portMin + 2 * p));
  out.externalFirst = uint16_t(cfg_.portMin + 2 * cfg_.muxPairs);
  out.externalLast = cfg_.portMax;
  out.kernelPath = kernel_->active();
  out.kernelPathReason = kernel_->reason();
  out.kernelInterfaces = kernel_->interfaces();
  return out;
}

}  // namespace mra
