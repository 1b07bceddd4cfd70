// The per-packet decision: validate, demux to a leg, unprotect, latch, protect for the peer, choose where it
// goes. Pure apart from the leg state it updates, so unit tests drive it without sockets.
#pragma once
#include <cstddef>
#include <cstdint>

#include "media_event.hpp"
#include "relay.hpp"

namespace mra {

struct PacketContext {
  Leg* leg = nullptr;     // the leg it arrived on
  Endpoint source;
  bool onRtcpSocket = false;
  uint8_t* data = nullptr;
  size_t length = 0;
  size_t capacity = 0;
  uint64_t nowMs = 0;
  // Out: what the kernel path needs to know about this packet (docs/media.md, "Two paths").
  bool rtp = false;                // an RTP packet, counted on the leg
  bool latchMoved = false;         // it latched or re-latched the leg's RTP source
  bool sequenceRestarted = false;  // it started a new RTP count (another SSRC, a jump)
};

// Returns where to send (fd >= 0) or a drop (fd < 0, already counted on the leg).
Forward processPacket(PacketContext& ctx, EventBatch& events);

}  // namespace mra
