#include "turn/turn_server.hpp"

#include <stdexcept>

namespace mra::turn {

namespace {
void validate(TurnConfig& c) {
  if (c.threads < 1 || c.threads > 16) throw std::invalid_argument("threads must be between 1 and 16");
  if (c.realm.empty()) throw std::invalid_argument("realm must not be empty");
  if (c.secrets.empty()) throw std::invalid_argument("at least one secret is needed");
  for (const std::string& s : c.secrets)
    if (s.empty()) throw std::invalid_argument("a secret must not be empty");
  if (c.defaultLifetimeS == 0 || c.maxLifetimeS < c.defaultLifetimeS)
    throw std::invalid_argument("lifetimes: 0 < default <= max");
  if (c.permissionLifetimeS == 0 || c.channelLifetimeS == 0 || c.nonceLifetimeS == 0 || c.reservationLifetimeS == 0)
    throw std::invalid_argument("permission, channel, nonce and reservation lifetimes must be above 0");
  if (c.maxAllocations == 0) throw std::invalid_argument("maxAllocations must be above 0");
  if (c.advertisedIp == 0) c.advertisedIp = c.relayIp;
  if (c.advertisedIp == 0)
    throw std::invalid_argument("the relayed address to advertise is unknown: give relayAddress or advertisedAddress");
}
}  // namespace

TurnServer::TurnServer(TurnConfig cfg, std::shared_ptr<PortPool> pool) {
  if (!pool) throw std::invalid_argument("the TURN server needs the media engine's port pool");
  validate(cfg);
  const uint16_t port = cfg.port;
  shared_ = std::make_unique<TurnShared>(std::move(cfg), std::move(pool));
  for (int i = 0; i < shared_->cfg.threads; ++i)
    workers_.push_back(std::make_unique<TurnWorker>(i, *shared_, i == 0 ? port : workers_.front()->udpPort()));
  for (auto& w : workers_) w->start();
}

TurnServer::~TurnServer() { stop(); }

void TurnServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& w : workers_) w->stop();
}

TurnStats TurnServer::stats() const {
  TurnStats s;
  for (const auto& w : workers_) {
    const TurnCounters& c = w->counters();
#define MRA_TURN_SUM(name) s.name += c.name.get();
    MRA_TURN_COUNTERS(MRA_TURN_SUM)
    MRA_TURN_GAUGES(MRA_TURN_SUM)
#undef MRA_TURN_SUM
  }
  s.relayPorts = shared_->ports.portsInUse();
  s.reservations = shared_->ports.reservations();
  return s;
}

}  // namespace mra::turn
