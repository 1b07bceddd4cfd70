#include "relay.hpp"

namespace mra {

Endpoint Leg::rtcpDestination() const {
  if (config.rtcpMux) return rtpLatch.destination();
  if (rtcpLatch.latched() || rtcpLatch.destination().valid()) return rtcpLatch.destination();
  // No RTCP heard and none signalled: RFC 3550's convention, RTP port + 1 of wherever RTP goes.
  Endpoint rtp = rtpLatch.destination();
  if (rtp.valid()) rtp.port = uint16_t(rtp.port + 1);
  return rtp;
}

}  // namespace mra
