// Events from workers to the control plane. Rare by construction (latching, timeouts, auth-failure bursts,
// close acknowledgements): a worker batches them and hands them over once per loop turn.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "latch.hpp"

namespace mra {

struct MediaEvent {
  enum class Type { Latched, Relatched, Timeout, AuthFailures, Closed };
  Type type;
  std::string relayId;
  int leg = 0;
  bool rtcp = false;
  Endpoint endpoint;
  uint64_t count = 0;
};

using EventBatch = std::vector<MediaEvent>;
// Called on a worker thread with a non-empty batch; must not block.
using EventSink = std::function<void(EventBatch&&)>;

const char* eventTypeName(MediaEvent::Type t);

}  // namespace mra
