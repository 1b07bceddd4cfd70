// The TURN server's configuration as the native side takes it (src/turn/ builds it from the edge's `turn` section),
// its counters, and the state its threads share: credentials, relay ports, quotas.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "counters.hpp"
#include "turn/turn_credentials.hpp"
#include "turn/turn_peer_policy.hpp"
#include "turn/turn_ports.hpp"

namespace mra::turn {

struct TurnConfig {
  uint32_t listenIp = 0;  // host order; 0: every address
  uint16_t port = 3478;   // UDP and, with `tcp`, TCP
  bool tcp = true;
  uint32_t relayIp = 0;       // where relay sockets bind
  uint32_t advertisedIp = 0;  // what XOR-RELAYED-ADDRESS names (a NAT's public address); 0: relayIp
  std::string realm;
  std::vector<std::string> secrets;  // any of them verifies a credential (rotation)
  uint32_t defaultLifetimeS = 600, maxLifetimeS = 3600;
  uint32_t permissionLifetimeS = 300, channelLifetimeS = 600;  // RFC 8656 §9, §12
  uint32_t nonceLifetimeS = 600;
  uint32_t reservationLifetimeS = 30;  // an EVEN-PORT R=1 odd port waits this long for its RESERVATION-TOKEN
  uint32_t maxAllocations = 1800;       // the whole server: 486 beyond it
  uint32_t maxAllocationsPerUser = 0;   // 0: no per-user limit
  uint32_t maxPermissions = 64;         // per allocation: 508 beyond it
  uint32_t maxChannels = 64;            // per allocation
  uint32_t maxTcpConnections = 4000;    // idle ones are closed after tcpIdleS without an allocation
  uint32_t tcpIdleS = 30;
  int threads = 1;
  uint32_t batchWaitUs = 100;  // as the media workers: a light turn naps so the next reads a batch
  bool ioUring = true;         // batch relay sockets' I/O through io_uring when the kernel allows (BatchIo)
  int listenBuffer = 4 << 20;
  int relayBuffer = 512 << 10;
  PeerPolicy peers;
};

// What every counter is called in stats(); one list so the addon and docs name them alike.
#define MRA_TURN_COUNTERS(X)                                                                              \
  X(allocationsCreated) X(allocationsRefreshed) X(allocationsDeleted) X(allocationsExpired)              \
  X(allocationsClosed) X(permissionsCreated) X(channelsBound) X(requests) X(indications)                 \
  X(toPeerPackets) X(toPeerBytes) X(toClientPackets) X(toClientBytes) X(challenges) X(authFailures)      \
  X(badRequests) X(wrongCredentials) X(staleNonces) X(mismatches) X(forbidden) X(unknownAttributes)       \
  X(unsupportedTransport) X(addressFamily) X(quotaRefusals) X(capacityRefusals) X(malformed)             \
  X(noAllocation) X(noPermission) X(tooBig) X(sendErrors) X(receiveErrors) X(tcpAccepted) X(tcpClosed)

// Gauges a worker sets (the sum over workers is the server's).
#define MRA_TURN_GAUGES(X) X(allocations) X(permissions) X(channels) X(tcpConnections)

struct TurnCounters {
#define MRA_TURN_DECLARE(name) Counter name;
  MRA_TURN_COUNTERS(MRA_TURN_DECLARE)
  MRA_TURN_GAUGES(MRA_TURN_DECLARE)
#undef MRA_TURN_DECLARE
};

// Allocations per user and in all (every worker takes from it when it allocates).
class AllocationQuota {
 public:
  enum class Verdict { Granted, UserLimit, ServerLimit };
  AllocationQuota(uint32_t total, uint32_t perUser) : total_(total), perUser_(perUser) {}
  Verdict take(const std::string& user);
  void give(const std::string& user);
  size_t inUse() const;

 private:
  mutable std::mutex mutex_;
  uint32_t total_, perUser_;
  size_t inUse_ = 0;
  std::unordered_map<std::string, uint32_t> byUser_;
};

struct TurnShared {
  TurnShared(TurnConfig c, std::shared_ptr<PortPool> pool);
  TurnConfig cfg;
  Authenticator auth;
  RelayPorts ports;
  AllocationQuota quota;
  std::atomic<uint32_t> tcpConnections{0};
  std::atomic<bool> accepting{true};  // false in maintenance mode: new allocations are refused
};

}  // namespace mra::turn
