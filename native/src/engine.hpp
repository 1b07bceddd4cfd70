// The media engine: worker threads, the port pool, the mux pairs, and the relay registry the control plane
// addresses by id (ids come from JavaScript; the registry refuses duplicates and lists them in dump()).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "latch.hpp"
#include "media_event.hpp"
#include "port_pool.hpp"
#include "relay.hpp"
#include "udp_socket.hpp"
#include "worker.hpp"

namespace mra {

// Two error kinds, as mediasoup: bad input (TypeError in JS) and a refusal in the current state.
struct EngineTypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct EngineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EngineConfig {
  int workers = 1;
  SocketOptions sockets;
  uint16_t portMin = 36000, portMax = 59999;
  int muxPairs = 1;          // pairs starting at portMin, one worker each round-robin; external legs above
  LatchConfig latch;
  uint32_t timeoutMs = 60000;
  uint32_t authReportMs = 1000;
  uint32_t batchWaitUs = 100;  // Worker::run: a light turn waits this long so the next one reads a batch
  bool kernelPath = true;           // forward pass-through streams in the kernel where it can (docs/media.md)
  uint32_t kernelAfterPackets = 10;  // RTP packets a stream's current source sends through user space first
};

struct RelayConfig {
  std::string id;
  std::array<LegConfig, 2> legs;
  std::optional<uint32_t> timeoutMs;
};

struct RelayPorts {
  int worker;
  std::array<uint16_t, 2> rtpPorts;  // RTCP is +1 (the mux pair's RTCP port for mux legs)
};

struct EngineInfo {
  std::string srtpBackend;
  std::vector<std::string> srtpSuites;
  int workers;
  std::vector<uint16_t> muxPorts;  // RTP port of each mux pair
  uint16_t externalFirst, externalLast;
  bool kernelPath;                        // streams that need no change are forwarded in the kernel
  std::string kernelPathReason;           // why not, when not
  std::vector<std::string> kernelInterfaces;  // where the program is attached
};

class Engine {
 public:
  Engine(EngineConfig cfg, EventSink sink);
  ~Engine();

  RelayPorts createRelay(const RelayConfig& cfg);
  void setKeys(const std::string& id, int leg, const std::optional<KeySpec>& in, const std::optional<KeySpec>& out);
  void setRemote(const std::string& id, int leg, Endpoint rtp, Endpoint rtcp);
  // RFC 5761 negotiated after the relay opened (the ng relay learns it from an answer): where RTCP goes and leaves from.
  void setRtcpMux(const std::string& id, int leg, bool rtcpMux);
  // Unknown id: false. The ports are back in the pool when the Closed event for this id is emitted.
  bool destroyRelay(const std::string& id);
  // Where each leg's SRTP stands (rollover counters, highest sequence numbers), read on the relay's worker; nullopt
  // for an unknown id. Blocks the caller for at most one worker turn.
  std::optional<std::array<LegSrtpIndices, 2>> srtpIndices(const std::string& id);
  std::shared_ptr<const Relay> find(const std::string& id) const;
  // The relay's legs' counters with what the kernel counted; nullopt for an unknown id.
  std::optional<std::array<LegSnapshot, 2>> snapshot(const std::string& id) const;
  std::vector<std::string> relayIds() const;
  const Worker& worker(int i) const { return *workers_.at(size_t(i)); }
  EngineInfo info() const;
  size_t portPairsInUse() const { return pool_->inUse(); }
  // Shared with native services that relay from the same media range (the TURN server, native/src/turn/).
  std::shared_ptr<PortPool> portPool() const { return pool_; }
  void stop();

 private:
  std::shared_ptr<Relay> lookup(const std::string& id) const;
  void openLeg(Leg& leg, const LegConfig& cfg, int index, Relay* relay);
  void openExactLeg(Leg& leg, const LegConfig& cfg);
  void releaseSockets(Relay& relay);

  EngineConfig cfg_;
  EventSink sink_;
  std::shared_ptr<KernelPath> kernel_;
  std::shared_ptr<PortPool> pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::array<int, 2>> muxFds_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Relay>> relays_;
  std::set<std::pair<int, uint64_t>> muxSources_;  // (pair, ip:port) claimed, to refuse duplicates at once
  size_t nextWorker_ = 0, nextMux_ = 0;
  bool stopped_ = false;
};

}  // namespace mra
