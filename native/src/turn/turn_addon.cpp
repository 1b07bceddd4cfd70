// NativeTurnServer: JavaScript configures, starts, reads counters and stops it; it never sees a TURN packet.
#include "turn/turn_addon.hpp"

#include "turn/turn_server.hpp"
#include "udp_socket.hpp"

namespace mra {
namespace {

using turn::TurnConfig;
using turn::TurnServer;

std::string where(const char* key) { return std::string("NativeTurnServer: ") + key; }

uint32_t number(const Napi::Object& o, const char* key, uint32_t fallback, uint32_t min, uint32_t max) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= min && d <= max) || d != double(uint64_t(d)))
    throw std::invalid_argument(where(key) + " must be an integer " + std::to_string(min) + "-" + std::to_string(max));
  return uint32_t(d);
}

std::string text(const Napi::Object& o, const char* key, const std::string& fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw std::invalid_argument(where(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

uint32_t address(const Napi::Object& o, const char* key) {
  const std::string a = text(o, key, "0.0.0.0");
  try {
    return parseIpv4(a);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(where(key) + " must be an IPv4 address, not '" + a + "'");
  }
}

std::vector<std::string> texts(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  std::vector<std::string> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw std::invalid_argument(where(key) + " must be an array of strings");
  const Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value item = a.Get(i);
    if (!item.IsString()) throw std::invalid_argument(where(key) + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

TurnConfig configFrom(const Napi::Object& o) {
  TurnConfig c;
  c.listenIp = address(o, "listenAddress");
  c.port = uint16_t(number(o, "port", 3478, 0, 65535));
  c.tcp = !o.Get("tcp").IsBoolean() || o.Get("tcp").As<Napi::Boolean>().Value();
  c.ioUring = !o.Get("ioUring").IsBoolean() || o.Get("ioUring").As<Napi::Boolean>().Value();
  c.relayIp = address(o, "relayAddress");
  c.advertisedIp = address(o, "advertisedAddress");
  c.realm = text(o, "realm", "");
  c.secrets = texts(o, "secrets");
  c.defaultLifetimeS = number(o, "defaultLifetimeS", 600, 1, 86400);
  c.maxLifetimeS = number(o, "maxLifetimeS", 3600, 1, 86400);
  c.permissionLifetimeS = number(o, "permissionLifetimeS", 300, 1, 86400);
  c.channelLifetimeS = number(o, "channelLifetimeS", 600, 1, 86400);
  c.nonceLifetimeS = number(o, "nonceLifetimeS", 600, 1, 86400);
  c.reservationLifetimeS = number(o, "reservationLifetimeS", 30, 1, 3600);
  c.maxAllocations = number(o, "maxAllocations", 1800, 1, 100000);
  c.maxAllocationsPerUser = number(o, "maxAllocationsPerUser", 0, 0, 100000);
  c.maxPermissions = number(o, "maxPermissions", 64, 1, 1024);
  c.maxChannels = number(o, "maxChannels", 64, 1, 4096);
  c.maxTcpConnections = number(o, "maxTcpConnections", 4000, 1, 1000000);
  c.tcpIdleS = number(o, "tcpIdleS", 30, 1, 3600);
  c.threads = int(number(o, "threads", 1, 1, 16));
  c.batchWaitUs = number(o, "batchWaitUs", 100, 0, 10000);
  for (const std::string& b : texts(o, "allowPeers")) c.peers.allow(turn::parseCidr(b));
  for (const std::string& b : texts(o, "denyPeers")) c.peers.deny(turn::parseCidr(b));
  return c;
}

class NativeTurnServer : public Napi::ObjectWrap<NativeTurnServer> {
 public:
  static Napi::Function Define(Napi::Env env, PortPoolOf poolOf) {
    auto* held = new PortPoolOf(std::move(poolOf));
    Napi::Function cls = DefineClass(env, "NativeTurnServer",
                                     {InstanceMethod<&NativeTurnServer::Ports>("ports"),
                                      InstanceMethod<&NativeTurnServer::Stats>("stats"),
                                      InstanceMethod<&NativeTurnServer::SetAccepting>("setAccepting"),
                                      InstanceMethod<&NativeTurnServer::Close>("close")},
                                     held);
    // The resolver lives as long as the addon's environment.
    env.AddCleanupHook([held] { delete held; });
    return cls;
  }

  NativeTurnServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTurnServer>(info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 2 || !info[1].IsObject()) throw std::invalid_argument("new NativeTurnServer(engine, config)");
      const auto& poolOf = *static_cast<PortPoolOf*>(info.Data());
      server_ = std::make_unique<TurnServer>(configFrom(info[1].As<Napi::Object>()), poolOf(info[0]));
    } catch (const std::invalid_argument& e) {
      Napi::TypeError::New(env, e.what()).ThrowAsJavaScriptException();
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    }
  }

 private:
  TurnServer& server(Napi::Env env) {
    if (!server_) throw Napi::Error::New(env, "TURN server is closed");
    return *server_;
  }

  Napi::Value Ports(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("udp", server(info.Env()).udpPort());
    o.Set("tcp", server(info.Env()).tcpPort());
    o.Set("io", server(info.Env()).batchesAcrossSockets() ? "io_uring" : "system calls");
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    const turn::TurnStats s = server(info.Env()).stats();
    Napi::Object o = Napi::Object::New(info.Env());
#define MRA_TURN_SET(name) o.Set(#name, double(s.name));
    MRA_TURN_COUNTERS(MRA_TURN_SET)
    MRA_TURN_GAUGES(MRA_TURN_SET)
    MRA_TURN_SET(relayPorts)
    MRA_TURN_SET(reservations)
#undef MRA_TURN_SET
    return o;
  }

  Napi::Value SetAccepting(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setAccepting(on: boolean)");
    server(info.Env()).setAccepting(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (server_) server_->stop();
    server_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<TurnServer> server_;
};

}  // namespace

Napi::Function defineNativeTurnServer(Napi::Env env, PortPoolOf poolOf) { return NativeTurnServer::Define(env, std::move(poolOf)); }

}  // namespace mra
