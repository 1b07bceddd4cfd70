// The TURN server (RFC 8656 over RFC 8489): its threads, each with its share of the clients, and what they share
// (credentials, the relay ports taken from the media engine's pool, quotas). Started and stopped from the control
// thread; counters are read from there without stopping anything.
#pragma once
#include <memory>
#include <vector>

#include "turn/turn_config.hpp"
#include "turn/turn_worker.hpp"

namespace mra::turn {

struct TurnStats {
#define MRA_TURN_FIELD(name) uint64_t name = 0;
  MRA_TURN_COUNTERS(MRA_TURN_FIELD)
  MRA_TURN_GAUGES(MRA_TURN_FIELD)
#undef MRA_TURN_FIELD
  uint64_t relayPorts = 0;    // ports bound for allocations and reservations
  uint64_t reservations = 0;  // EVEN-PORT R=1 odd ports held for a RESERVATION-TOKEN
};

class TurnServer {
 public:
  // Throws std::invalid_argument on a bad configuration, std::runtime_error when a port cannot be opened.
  TurnServer(TurnConfig cfg, std::shared_ptr<PortPool> pool);
  ~TurnServer();

  uint16_t udpPort() const { return workers_.front()->udpPort(); }
  uint16_t tcpPort() const { return workers_.front()->tcpPort(); }
  // io_uring batches sends and reads across relay sockets (BatchIo); false: one system call per datagram.
  bool batchesAcrossSockets() const { return workers_.front()->batchesAcrossSockets(); }
  TurnStats stats() const;
  // Maintenance mode: existing allocations go on, new ones are refused 508.
  void setAccepting(bool on) { shared_->accepting = on; }
  // Joins the threads and ends every allocation; the ports are back in the pool when it returns. Idempotent.
  void stop();

 private:
  std::unique_ptr<TurnShared> shared_;
  std::vector<std::unique_ptr<TurnWorker>> workers_;
  bool stopped_ = false;
};

}  // namespace mra::turn
