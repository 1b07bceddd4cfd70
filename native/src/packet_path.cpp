#include "packet_path.hpp"

#include "rtp_packet.hpp"

namespace mra {

const char* eventTypeName(MediaEvent::Type t) {
  switch (t) {
    case MediaEvent::Type::Latched: return "latched";
    case MediaEvent::Type::Relatched: return "relatched";
    case MediaEvent::Type::Timeout: return "timeout";
    case MediaEvent::Type::AuthFailures: return "authFailures";
    case MediaEvent::Type::Closed: return "closed";
  }
  return "unknown";
}

namespace {

Forward drop(Counter& reason) {
  reason.add();
  return Forward{};
}

bool unprotect(Leg& leg, bool rtcp, uint8_t* data, size_t& len) {
  if (!leg.srtpIn) return true;
  const SrtpResult r = rtcp ? leg.srtpIn->unprotectRtcp(data, len) : leg.srtpIn->unprotectRtp(data, len);
  if (r == SrtpResult::Ok) return true;
  if (r == SrtpResult::ReplayFail) {
    leg.counters.drops.replay.add();
  } else {
    leg.counters.drops.auth.add();
    ++leg.authFailuresPending;
  }
  return false;
}

}  // namespace

Forward processPacket(PacketContext& ctx, EventBatch& events) {
  Leg& leg = *ctx.leg;
  if (ctx.length == 0) {  // a keepalive: it opened or kept the path open, and ends here
    leg.counters.keepalivesIn.add();
    return Forward{};
  }
  const PacketInfo info = classifyPacket(ctx.data, ctx.length);
  if (info.kind == PacketKind::Invalid) return drop(leg.counters.drops.invalid);
  const bool rtcp = info.kind == PacketKind::Rtcp;
  // RTCP arriving on its own port latches separately: NATs map RTP and RTCP ports independently.
  Latch& latch = ctx.onRtcpSocket ? leg.rtcpLatch : leg.rtpLatch;
  const bool fromCurrent = latch.isCurrent(ctx.source);

  // A newcomer must at least carry the SSRC this leg has been receiving.
  if (!fromCurrent && !rtcp && latch.latched() && leg.haveSsrc && info.ssrc != leg.ssrc)
    return drop(leg.counters.drops.foreign);
  if (!unprotect(leg, rtcp, ctx.data, ctx.length)) return Forward{};

  // On a mux port the demux already tied the source to this leg (address, or SSRC fallback).
  const Latch::Verdict verdict = leg.config.mux ? Latch::Verdict::Accept : latch.offer(ctx.source, ctx.nowMs);
  if (verdict == Latch::Verdict::Foreign) return drop(leg.counters.drops.foreign);
  if (verdict != Latch::Verdict::Accept) {
    const auto type = verdict == Latch::Verdict::Latched ? MediaEvent::Type::Latched : MediaEvent::Type::Relatched;
    events.push_back(MediaEvent{type, leg.relay->id, leg.index, ctx.onRtcpSocket, ctx.source, 0});
    ctx.latchMoved = !ctx.onRtcpSocket;
  }
  if (!rtcp && !leg.haveSsrc) {
    leg.haveSsrc = true;
    leg.ssrc = info.ssrc;
  }
  leg.lastReceiveMs = ctx.nowMs;
  leg.timedOut = false;
  leg.counters.packetsIn.add();
  leg.counters.bytesIn.add(ctx.length);
  if (rtcp) {
    leg.counters.rtcpIn.add();
    leg.counters.rtcpBytesIn.add(ctx.length);
  } else {
    ctx.rtp = true;
    ctx.sequenceRestarted = leg.sequence.onPacket(info.ssrc, info.seq);
    leg.counters.rtpExpected.set(leg.sequence.expected());
    leg.counters.rtpLost.set(leg.sequence.lost());
  }

  Leg& peer = leg.relay->legs[leg.index ^ 1];
  Forward out;
  out.to = rtcp ? peer.rtcpDestination() : peer.rtpDestination();
  if (!out.to.valid()) return drop(peer.counters.drops.noRemote);
  if (peer.srtpOut) {
    const SrtpResult r = rtcp ? peer.srtpOut->protectRtcp(ctx.data, ctx.length, ctx.capacity)
                              : peer.srtpOut->protectRtp(ctx.data, ctx.length, ctx.capacity);
    if (r != SrtpResult::Ok) return drop(peer.counters.drops.protect);
  }
  out.fd = rtcp ? peer.rtcpSendFd() : peer.rtpSocket.fd;
  peer.counters.packetsOut.add();
  peer.lastSendMs = ctx.nowMs;
  peer.counters.bytesOut.add(ctx.length);
  if (rtcp) {
    peer.counters.rtcpOut.add();
    peer.counters.rtcpBytesOut.add(ctx.length);
  }
  return out;
}

}  // namespace mra
