// The TURN server's requests (RFC 8656 §7 Allocate and Refresh, §9 CreatePermission, §12 ChannelBind, §10 Send)
// and STUN Binding (RFC 8489), on the worker thread that owns the client's 5-tuple.
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "turn/turn_worker.hpp"
#include "udp_socket.hpp"

namespace mra::turn {

struct TurnWorker::Request {
  const StunView& msg;
  Endpoint from;
  TcpConnection* tcp;
  AuthOutcome auth;
  const uint16_t* unknown = nullptr;
  size_t unknownCount = 0;
  bool authenticated() const { return auth.kind == AuthOutcome::Ok; }
};

namespace {

constexpr char kSoftware[] = "mra-edge";
constexpr uint8_t kUdp = 17;

uint16_t rd16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }

}  // namespace

void TurnWorker::handleStun(const StunView& msg, Endpoint from, TcpConnection* tcp) {
  switch (msg.cls()) {
    case StunClass::Request:
      counters_.requests.add();
      handleRequest(msg, from, tcp);
      return;
    case StunClass::Indication:
      counters_.indications.add();
      if (msg.method() == method::Send) handleSendIndication(msg, findAllocation(from, tcp));
      return;  // any other indication means nothing to a server
    default:
      counters_.malformed.add();  // responses are never sent to a server
  }
}

void TurnWorker::handleRequest(const StunView& msg, Endpoint from, TcpConnection* tcp) {
  Request r{msg, from, tcp, {}};
  uint16_t unknown[8];
  r.unknownCount = msg.unknownRequired(unknown, 8);
  r.unknown = unknown;
  if (r.unknownCount > 0) return respondError(r, 420, "the request carries attributes this server does not know");
  if (msg.method() == method::Binding) {
    // Binding needs no credentials: it only tells the client its address as the server sees it.
    return respondSuccess(r, [&](StunBuilder& b) { b.addXorAddress(attr::XorMappedAddress, from); });
  }
  const uint16_t m = msg.method();
  if (m != method::Allocate && m != method::Refresh && m != method::CreatePermission && m != method::ChannelBind)
    return respondError(r, 400, "unknown method");
  r.auth = shared_.auth.check(msg, from.ip, nowS_);
  switch (r.auth.kind) {
    case AuthOutcome::Ok: break;
    case AuthOutcome::Challenge:
      counters_.challenges.add();
      return respondChallenge(r, 401, nullptr);
    case AuthOutcome::BadRequest: return respondError(r, 400, r.auth.reason, false);
    case AuthOutcome::Unauthenticated:
      counters_.authFailures.add();
      return respondChallenge(r, 401, r.auth.reason);
    case AuthOutcome::StaleNonce:
      counters_.staleNonces.add();
      return respondChallenge(r, 438, nullptr);
  }
  Allocation* a = findAllocation(from, tcp);
  if (m == method::Allocate) {
    if (!a) return allocate(r);
    // A retransmission of the Allocate that made it gets its answer again (RFC 8656 §7.2); anything else is 437.
    if (a->allocateTid != msg.transaction()) return respondError(r, 437, "this 5-tuple already has an allocation");
    if (a->username != r.auth.username) return respondError(r, 441, "the allocation belongs to other credentials");
    const uint32_t left = uint32_t((a->expiresMs - nowMs_) / 1000);
    return respondSuccess(r, [&](StunBuilder& b) {
      b.addXorAddress(attr::XorRelayedAddress, Endpoint{shared_.cfg.advertisedIp, a->relayPort});
      b.addU32(attr::Lifetime, left);
      b.addXorAddress(attr::XorMappedAddress, from);
    });
  }
  if (!a) return respondError(r, 437, "no allocation for this 5-tuple");
  if (a->username != r.auth.username) return respondError(r, 441, "the allocation belongs to other credentials");
  switch (m) {
    case method::Refresh: return refresh(r, *a);
    case method::CreatePermission: return createPermission(r, *a);
    default: return channelBind(r, *a);
  }
}

void TurnWorker::rejectMalformed(const StunView& header, Endpoint from, TcpConnection* tcp) {
  // The view's header (method, class, transaction) is read before the attributes, so it can be answered.
  Request r{header, from, tcp, {}};
  respondError(r, 400, "malformed attributes");
}

uint64_t TurnWorker::lifetimeFor(const StunView& msg, uint32_t& seconds) const {
  // RFC 8656 §7.2: min(asked, maximum), and never below the default.
  const TurnConfig& c = shared_.cfg;
  uint32_t asked = c.defaultLifetimeS;
  msg.u32(attr::Lifetime, asked);
  seconds = std::max(c.defaultLifetimeS, std::min(asked, c.maxLifetimeS));
  return nowMs_ + uint64_t(seconds) * 1000;
}

void TurnWorker::allocate(Request& r) {
  const StunView& msg = r.msg;
  if (!shared_.accepting.load(std::memory_order_relaxed))
    return respondError(r, 508, "the server is in maintenance mode and takes no new allocations");
  const AttributeRef* transport = msg.find(attr::RequestedTransport);
  if (!transport) return respondError(r, 400, "REQUESTED-TRANSPORT is missing");
  if (transport->length != 4) return respondError(r, 400, "REQUESTED-TRANSPORT is malformed");
  if (msg.data()[transport->offset] != kUdp) return respondError(r, 442, "only UDP relaying is offered");
  const AttributeRef* token = msg.find(attr::ReservationToken);
  const AttributeRef* even = msg.find(attr::EvenPort);
  const AttributeRef* family = msg.find(attr::RequestedAddressFamily);
  const AttributeRef* additional = msg.find(attr::AdditionalAddressFamily);
  if (token && (even || family)) return respondError(r, 400, "RESERVATION-TOKEN cannot come with EVEN-PORT or REQUESTED-ADDRESS-FAMILY");
  if (token && token->length != 8) return respondError(r, 400, "RESERVATION-TOKEN is malformed");
  if (even && even->length != 1 && even->length != 4) return respondError(r, 400, "EVEN-PORT is malformed");
  if (family) {
    if (family->length != 4) return respondError(r, 400, "REQUESTED-ADDRESS-FAMILY is malformed");
    const uint8_t f = msg.data()[family->offset];
    if (f == 0x02) return respondError(r, 440, "only IPv4 relayed addresses are offered");
    if (f != 0x01) return respondError(r, 400, "REQUESTED-ADDRESS-FAMILY names no address family");
  }
  bool ipv6Refused = false;
  if (additional) {
    // RFC 8656 §7.2: a dual allocation asks for IPv6 besides IPv4; we give the IPv4 one and say why not the other.
    if (family) return respondError(r, 400, "ADDITIONAL-ADDRESS-FAMILY cannot come with REQUESTED-ADDRESS-FAMILY");
    if (additional->length != 4 || msg.data()[additional->offset] != 0x02)
      return respondError(r, 400, "ADDITIONAL-ADDRESS-FAMILY must name IPv6");
    ipv6Refused = true;
  }
  switch (shared_.quota.take(r.auth.user)) {
    case AllocationQuota::Verdict::Granted: break;
    case AllocationQuota::Verdict::UserLimit: return respondError(r, 486, "this user has as many allocations as allowed");
    case AllocationQuota::Verdict::ServerLimit: return respondError(r, 486, "the server has as many allocations as allowed");
  }
  std::optional<RelayPorts::Opened> opened;
  if (token) {
    uint64_t value;
    std::memcpy(&value, msg.data() + token->offset, 8);
    opened = shared_.ports.openReserved(value, nowMs_);
  } else if (even) {
    const bool reserve = (msg.data()[even->offset] & 0x80) != 0;
    opened = shared_.ports.open(reserve ? RelayPorts::Kind::EvenReserveNext : RelayPorts::Kind::Even, nowMs_);
  } else {
    opened = shared_.ports.open(RelayPorts::Kind::Any, nowMs_);
  }
  if (!opened) {
    shared_.quota.give(r.auth.user);
    return respondError(r, 508, token ? "the reservation token is unknown or expired" : "no relay port is free in the media range");
  }
  auto a = std::make_unique<Allocation>();
  a->relayFd = opened->fd;
  a->relayPort = opened->port;
  a->client = r.from;
  a->tcp = r.tcp;
  a->username = r.auth.username;
  a->user = r.auth.user;
  a->allocateTid = msg.transaction();
  uint32_t lifetime = 0;
  a->expiresMs = lifetimeFor(msg, lifetime);
  if (msg.find(attr::DontFragment)) {
    const int on = IP_PMTUDISC_DO;
    ::setsockopt(a->relayFd, IPPROTO_IP, IP_MTU_DISCOVER, &on, sizeof on);
  }
  Allocation* raw = a.get();
  watch(raw->relayFd, raw->watch);
  if (r.tcp) r.tcp->allocation = raw;
  else byClient_[(uint64_t(r.from.ip) << 16) | r.from.port] = raw;
  allocations_[raw] = std::move(a);
  counters_.allocationsCreated.add();
  refreshGauges();
  const uint64_t reservation = opened->token;
  respondSuccess(r, [&](StunBuilder& b) {
    b.addXorAddress(attr::XorRelayedAddress, Endpoint{shared_.cfg.advertisedIp, raw->relayPort});
    b.addU32(attr::Lifetime, lifetime);
    if (reservation) b.add(attr::ReservationToken, &reservation, 8);
    b.addXorAddress(attr::XorMappedAddress, r.from);
    if (ipv6Refused) {
      const uint8_t v[] = {0x02, 0x00, 0x04, 40, 'A', 'd', 'd', 'r', 'e', 's', 's', ' ', 'F', 'a', 'm', 'i', 'l', 'y', ' ',
                           'n', 'o', 't', ' ', 'S', 'u', 'p', 'p', 'o', 'r', 't', 'e', 'd'};
      b.add(attr::AddressErrorCode, v, sizeof v);
    }
  });
}

void TurnWorker::refresh(Request& r, Allocation& a) {
  const AttributeRef* family = r.msg.find(attr::RequestedAddressFamily);
  if (family && (family->length != 4 || r.msg.data()[family->offset] != 0x01))
    return respondError(r, 443, "the allocation's relayed address is IPv4");
  uint32_t asked = 1;
  if (r.msg.u32(attr::Lifetime, asked) && asked == 0) {
    retire(&a, counters_.allocationsDeleted);
    return respondSuccess(r, [&](StunBuilder& b) { b.addU32(attr::Lifetime, 0); });
  }
  uint32_t lifetime = 0;
  a.expiresMs = lifetimeFor(r.msg, lifetime);
  counters_.allocationsRefreshed.add();
  respondSuccess(r, [&](StunBuilder& b) { b.addU32(attr::Lifetime, lifetime); });
}

int TurnWorker::peerProblem(Request& r, const AttributeRef& attr, Endpoint& peer) {
  uint8_t family = 0;
  if (!r.msg.xorAddressAt(attr, peer, family)) {
    if (family == 0x02) return 443;
    return 400;
  }
  if (peer.port == 0 && r.msg.method() == method::ChannelBind) return 400;
  if (!shared_.cfg.peers.permitted(peer.ip)) return 403;
  return 0;
}

void TurnWorker::createPermission(Request& r, Allocation& a) {
  // All or nothing (RFC 8656 §9.2): every XOR-PEER-ADDRESS is checked before any permission is installed.
  Endpoint peers[StunView::kMaxAttributes];
  size_t count = 0;
  for (size_t i = 0; i < r.msg.attributeCount(); ++i) {
    const AttributeRef& attr = r.msg.attributes()[i];
    if (attr.type != attr::XorPeerAddress) continue;
    const int problem = peerProblem(r, attr, peers[count]);
    if (problem == 400) return respondError(r, 400, "XOR-PEER-ADDRESS is malformed");
    if (problem == 443) return respondError(r, 443, "the relayed address is IPv4 and the peer is not");
    if (problem == 403) return respondError(r, 403, "relaying to this peer address is not allowed");
    ++count;
  }
  if (count == 0) return respondError(r, 400, "XOR-PEER-ADDRESS is missing");
  size_t added = 0;
  for (size_t i = 0; i < count; ++i)
    if (!std::any_of(a.permissions.begin(), a.permissions.end(), [&](const Permission& p) { return p.ip == peers[i].ip; }))
      ++added;
  if (a.permissions.size() + added > shared_.cfg.maxPermissions)
    return respondError(r, 508, "the allocation has as many permissions as allowed");
  const uint64_t expires = nowMs_ + uint64_t(shared_.cfg.permissionLifetimeS) * 1000;
  for (size_t i = 0; i < count; ++i) {
    auto it = std::find_if(a.permissions.begin(), a.permissions.end(), [&](const Permission& p) { return p.ip == peers[i].ip; });
    if (it != a.permissions.end()) {
      it->expiresMs = expires;
    } else {
      a.permissions.push_back(Permission{peers[i].ip, expires});
      ++permissions_;
      counters_.permissionsCreated.add();
    }
  }
  refreshGauges();
  respondSuccess(r, [](StunBuilder&) {});
}

void TurnWorker::channelBind(Request& r, Allocation& a) {
  const AttributeRef* number = r.msg.find(attr::ChannelNumber);
  if (!number || number->length != 4) return respondError(r, 400, "CHANNEL-NUMBER is missing or malformed");
  const uint16_t channel = rd16(r.msg.data() + number->offset);
  if (channel < kFirstChannel || channel > kLastChannel) return respondError(r, 400, "CHANNEL-NUMBER is not 0x4000-0x7FFF");
  const AttributeRef* peerAttr = r.msg.find(attr::XorPeerAddress);
  if (!peerAttr) return respondError(r, 400, "XOR-PEER-ADDRESS is missing");
  Endpoint peer;
  switch (peerProblem(r, *peerAttr, peer)) {
    case 400: return respondError(r, 400, "XOR-PEER-ADDRESS is malformed");
    case 443: return respondError(r, 443, "the relayed address is IPv4 and the peer is not");
    case 403: return respondError(r, 403, "relaying to this peer address is not allowed");
    default: break;
  }
  const Channel* byNumber = a.channelByNumber(channel);
  const Channel* byPeer = a.channelByPeer(peer);
  if (byNumber && byNumber->peer != peer) return respondError(r, 400, "the channel is bound to another peer");
  if (byPeer && byPeer->number != channel) return respondError(r, 400, "the peer is bound to another channel");
  if (!byNumber && a.channels.size() >= shared_.cfg.maxChannels)
    return respondError(r, 508, "the allocation has as many channels as allowed");
  auto perm = std::find_if(a.permissions.begin(), a.permissions.end(), [&](const Permission& p) { return p.ip == peer.ip; });
  if (perm == a.permissions.end() && a.permissions.size() >= shared_.cfg.maxPermissions)
    return respondError(r, 508, "the allocation has as many permissions as allowed");
  // The binding lasts channelLifetime and installs or refreshes the peer's permission (RFC 8656 §12.2).
  const uint64_t channelExpires = nowMs_ + uint64_t(shared_.cfg.channelLifetimeS) * 1000;
  const uint64_t permissionExpires = nowMs_ + uint64_t(shared_.cfg.permissionLifetimeS) * 1000;
  if (byNumber) {
    const_cast<Channel*>(byNumber)->expiresMs = channelExpires;
  } else {
    a.channels.push_back(Channel{channel, peer, channelExpires});
    ++channels_;
    counters_.channelsBound.add();
  }
  if (perm != a.permissions.end()) {
    perm->expiresMs = std::max(perm->expiresMs, permissionExpires);
  } else {
    a.permissions.push_back(Permission{peer.ip, permissionExpires});
    ++permissions_;
    counters_.permissionsCreated.add();
  }
  refreshGauges();
  respondSuccess(r, [](StunBuilder&) {});
}

void TurnWorker::handleSendIndication(const StunView& msg, Allocation* a) {
  // Indications get no answer: whatever is wrong, the data is dropped and counted (RFC 8656 §10.2).
  if (!a) {
    counters_.noAllocation.add();
    return;
  }
  Endpoint peer;
  uint8_t family = 0;
  const AttributeRef* data = msg.find(attr::Data);
  if (!data || !msg.xorAddress(attr::XorPeerAddress, peer, family)) {
    counters_.malformed.add();
    return;
  }
  if (!a->permitted(peer.ip, nowMs_)) {
    counters_.noPermission.add();
    return;
  }
  if (msg.find(attr::DontFragment)) {
    const int on = IP_PMTUDISC_DO;
    ::setsockopt(a->relayFd, IPPROTO_IP, IP_MTU_DISCOVER, &on, sizeof on);
  }
  queueToPeer(*a, const_cast<uint8_t*>(msg.data()) + data->offset, data->length, peer);
}

void TurnWorker::respondError(Request& r, int code, const char* detail, bool withIntegrity) {
  switch (code) {
    case 400: counters_.badRequests.add(); break;
    case 403: counters_.forbidden.add(); break;
    case 420: counters_.unknownAttributes.add(); break;
    case 437: counters_.mismatches.add(); break;
    case 440: case 443: counters_.addressFamily.add(); break;
    case 441: counters_.wrongCredentials.add(); break;
    case 442: counters_.unsupportedTransport.add(); break;
    case 486: counters_.quotaRefusals.add(); break;
    case 508: counters_.capacityRefusals.add(); break;
    default: break;
  }
  StunBuilder b(response_.data(), response_.size());
  b.start(r.msg.method(), StunClass::Error, r.msg.transaction());
  std::string reason = errorReason(code);
  if (detail && *detail) reason.append(": ").append(detail);
  b.addError(code, reason);
  if (code == 420) {
    uint8_t list[16];
    for (size_t i = 0; i < r.unknownCount; ++i) list[2 * i] = uint8_t(r.unknown[i] >> 8), list[2 * i + 1] = uint8_t(r.unknown[i]);
    b.add(attr::UnknownAttributes, list, 2 * r.unknownCount);
  }
  finishAndSend(r, b, withIntegrity && r.authenticated());
}

void TurnWorker::respondChallenge(Request& r, int code, const char* detail) {
  StunBuilder b(response_.data(), response_.size());
  b.start(r.msg.method(), StunClass::Error, r.msg.transaction());
  std::string reason = errorReason(code);
  if (detail && *detail) reason.append(": ").append(detail);
  b.addError(code, reason);
  b.addText(attr::Realm, shared_.auth.realm());
  b.addText(attr::Nonce, shared_.auth.nonce(r.from.ip, nowS_));
  b.add(attr::PasswordAlgorithms, kPasswordAlgorithms.data(), kPasswordAlgorithms.size());
  finishAndSend(r, b, false);
}

void TurnWorker::respondSuccess(Request& r, const std::function<void(StunBuilder&)>& attributes) {
  StunBuilder b(response_.data(), response_.size());
  b.start(r.msg.method(), StunClass::Success, r.msg.transaction());
  attributes(b);
  finishAndSend(r, b, r.authenticated());
}

void TurnWorker::finishAndSend(Request& r, StunBuilder& b, bool withIntegrity) {
  b.addText(attr::Software, kSoftware);
  if (withIntegrity) {
    if (r.auth.sha256Integrity) b.addIntegritySha256(r.auth.key.data(), r.auth.key.size());
    else b.addIntegrity(r.auth.key.data(), r.auth.key.size());
  }
  if (r.msg.hasFingerprint()) b.addFingerprint();
  if (!b.ok()) return;  // cannot happen with the attributes above; never send half a message
  if (!r.tcp) {
    const sockaddr_in to = sockaddrOf(r.from);
    if (::sendto(udpFd_, response_.data(), b.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
      counters_.sendErrors.add();
    return;
  }
  sendToClient(r.from, r.tcp, response_.data(), b.size());
}

}  // namespace mra::turn
