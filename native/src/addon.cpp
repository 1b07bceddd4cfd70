// N-API face of the engine. JavaScript never sees packets: only control calls, stats reads and event batches
// (one ThreadSafeFunction call per worker loop turn that produced events, never one per packet).
#include <napi.h>

#include "engine.hpp"
#include "sip_tls/tls_listener_addon.hpp"
#include "turn/turn_addon.hpp"

namespace mra {
namespace {

Napi::Error toJsError(Napi::Env env, const std::exception& e) {
  if (dynamic_cast<const std::invalid_argument*>(&e)) return Napi::TypeError::New(env, e.what());
  return Napi::Error::New(env, e.what());
}

// The one catch site: engine exceptions become JS TypeError/Error, never a crash.
template <class F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    toJsError(env, e).ThrowAsJavaScriptException();
    return env.Undefined();
  }
}

uint32_t u32(const Napi::Object& o, const char* key, uint32_t fallback, uint32_t max = 0xffffffffu) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw EngineTypeError(std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != double(uint64_t(d))) throw EngineTypeError(std::string(key) + " is out of range");
  return uint32_t(d);
}

bool flag(const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

Endpoint endpoint(const Napi::Value& v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsObject()) throw EngineTypeError(std::string(what) + " must be {address, port}");
  const Napi::Object o = v.As<Napi::Object>();
  const Napi::Value addr = o.Get("address");
  if (!addr.IsString()) throw EngineTypeError(std::string(what) + ".address must be a string");
  const uint32_t port = u32(o, "port", 0, 65535);
  if (port == 0) throw EngineTypeError(std::string(what) + ".port must be 1-65535");
  return Endpoint{parseIpv4(addr.As<Napi::String>().Utf8Value()), uint16_t(port)};
}

LegConfig legConfig(const Napi::Value& v) {
  LegConfig c;
  if (v.IsUndefined()) return c;
  if (!v.IsObject()) throw EngineTypeError("a leg must be an object");
  const Napi::Object o = v.As<Napi::Object>();
  c.mux = flag(o, "mux", false);
  c.muxPair = o.Get("muxPair").IsNumber() ? int(u32(o, "muxPair", 0, 63)) : -1;
  c.rtcpMux = flag(o, "rtcpMux", false);
  c.latch = flag(o, "latch", true);
  c.remoteRtp = endpoint(o.Get("remote"), "remote");
  c.remoteRtcp = endpoint(o.Get("remoteRtcp"), "remoteRtcp");
  c.keepaliveMs = u32(o, "keepaliveMs", 0, 3600000);
  c.port = uint16_t(u32(o, "port", 0, 65534));
  if (c.port % 2 != 0) throw EngineTypeError("port must be even (RTP; RTCP is port + 1)");
  const Napi::Value bind = o.Get("bindAddress");
  if (bind.IsString()) {
    try {
      c.bindIp = parseIpv4(bind.As<Napi::String>().Utf8Value());
    } catch (const std::invalid_argument& e) {
      throw EngineTypeError(std::string("bindAddress: ") + e.what());
    }
  }
  if (o.Get("ssrc").IsNumber()) {
    c.haveSsrc = true;
    c.ssrc = u32(o, "ssrc", 0);
  }
  return c;
}

std::optional<KeySpec> keySpec(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsObject()) throw EngineTypeError("an SRTP key must be {suite, keySalt}");
  const Napi::Object o = v.As<Napi::Object>();
  if (!o.Get("suite").IsString() || !o.Get("keySalt").IsBuffer())
    throw EngineTypeError("an SRTP key must be {suite: string, keySalt: Buffer}");
  auto buf = o.Get("keySalt").As<Napi::Buffer<uint8_t>>();
  KeySpec spec{o.Get("suite").As<Napi::String>().Utf8Value(), std::vector<uint8_t>(buf.Data(), buf.Data() + buf.Length()), {}};
  const Napi::Value resume = o.Get("resume");
  if (resume.IsUndefined() || resume.IsNull()) return spec;
  if (!resume.IsArray()) throw EngineTypeError("an SRTP key's resume must be an array of {ssrc, roc, seq}");
  const Napi::Array list = resume.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    if (!list.Get(i).IsObject()) throw EngineTypeError("an SRTP key's resume must be an array of {ssrc, roc, seq}");
    const Napi::Object r = list.Get(i).As<Napi::Object>();
    spec.resume.push_back(SrtpIndex{u32(r, "ssrc", 0), u32(r, "roc", 0), uint16_t(u32(r, "seq", 0, 65535))});
  }
  return spec;
}

Napi::Array indicesArray(Napi::Env env, const std::vector<SrtpIndex>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t k = 0; k < list.size(); ++k) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ssrc", double(list[k].ssrc));
    o.Set("roc", double(list[k].roc));
    o.Set("seq", double(list[k].seq));
    out.Set(uint32_t(k), o);
  }
  return out;
}

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw EngineTypeError(std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int legArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw EngineTypeError("leg must be 0 or 1");
  return info[i].As<Napi::Number>().Int32Value();
}

void setCounters(Napi::Env env, Napi::Object o, const LegSnapshot& c) {
  auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
  n("packetsIn", c.packetsIn), n("bytesIn", c.bytesIn), n("packetsOut", c.packetsOut), n("bytesOut", c.bytesOut);
  n("rtcpIn", c.rtcpIn), n("rtcpOut", c.rtcpOut), n("rtcpBytesIn", c.rtcpBytesIn), n("rtcpBytesOut", c.rtcpBytesOut), n("rtpExpected", c.rtpExpected), n("rtpLost", c.rtpLost);
  n("keepalivesIn", c.keepalivesIn), n("keepalivesOut", c.keepalivesOut);
  Napi::Object drops = Napi::Object::New(env);
#define MRA_SET_DROP(name) drops.Set(#name, Napi::Number::New(env, double(c.drops.name)));
  MRA_DROP_REASONS(MRA_SET_DROP)
#undef MRA_SET_DROP
  o.Set("drops", drops);
  o.Set("path", c.kernel ? "kernel" : "user");
}

// Marks NativeEngine objects, so that a native service handed "an engine" can tell one from any other object.
const napi_type_tag kEngineTag = {0x6d72612d656e6769ULL, 0x6e652d6f626a6563ULL};

class NativeEngine : public Napi::ObjectWrap<NativeEngine> {
 public:
  // The engine behind a JS NativeEngine, for the TURN server; throws a TypeError for anything else or a closed one.
  static std::shared_ptr<PortPool> portPoolOf(const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kEngineTag))
      throw EngineTypeError("the first argument must be a NativeEngine");
    return Unwrap(v.As<Napi::Object>())->engine().portPool();
  }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeEngine",
                       {InstanceMethod<&NativeEngine::CreateRelay>("createRelay"),
                        InstanceMethod<&NativeEngine::SetKeys>("setKeys"),
                        InstanceMethod<&NativeEngine::SetRemote>("setRemote"),
                        InstanceMethod<&NativeEngine::SetRtcpMux>("setRtcpMux"),
                        InstanceMethod<&NativeEngine::DestroyRelay>("destroyRelay"),
                        InstanceMethod<&NativeEngine::SrtpIndices>("srtpIndices"),
                        InstanceMethod<&NativeEngine::Stats>("stats"), InstanceMethod<&NativeEngine::Info>("info"),
                        InstanceMethod<&NativeEngine::WorkerStats>("workerStats"),
                        InstanceMethod<&NativeEngine::Dump>("dump"), InstanceMethod<&NativeEngine::Close>("close")});
  }

  NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) {
    Napi::Env env = info.Env();
    try {
      if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
        throw EngineTypeError("new NativeEngine(config, onEvents)");
      info.This().As<Napi::Object>().TypeTag(&kEngineTag);
      const Napi::Object o = info[0].As<Napi::Object>();
      EngineConfig cfg;
      cfg.workers = int(u32(o, "workers", 1, 64));
      if (o.Get("bindAddress").IsString()) cfg.sockets.bindIp = parseIpv4(o.Get("bindAddress").As<Napi::String>());
      cfg.portMin = uint16_t(u32(o, "portMin", 36000, 65535));
      cfg.portMax = uint16_t(u32(o, "portMax", 59999, 65535));
      cfg.muxPairs = int(u32(o, "muxPairs", 1, 64));
      cfg.timeoutMs = u32(o, "timeoutMs", 60000);
      cfg.authReportMs = u32(o, "authReportMs", 1000);
      cfg.batchWaitUs = u32(o, "batchWaitUs", 100, 10000);
      cfg.latch.relatchPackets = u32(o, "relatchPackets", 5);
      cfg.latch.relatchSilenceMs = u32(o, "relatchSilenceMs", 1000);
      cfg.sockets.receiveBuffer = int(u32(o, "socketBuffer", 4 << 20, 1 << 30));
      cfg.sockets.sendBuffer = cfg.sockets.receiveBuffer;
      cfg.kernelPath = flag(o, "kernelPath", true);
      cfg.kernelAfterPackets = u32(o, "kernelAfterPackets", 10, 1000000);
      if (cfg.kernelAfterPackets < 1) throw EngineTypeError("kernelAfterPackets must be at least 1");
      tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "mra-media-events", 0, 1);
      auto tsfn = tsfn_;
      engine_ = std::make_unique<Engine>(cfg, [tsfn](EventBatch&& batch) mutable {
        auto* heap = new EventBatch(std::move(batch));
        if (tsfn.NonBlockingCall(heap, deliver) != napi_ok) delete heap;
      });
    } catch (const std::exception& e) {
      if (tsfn_) tsfn_.Release();
      tsfn_ = {};
      toJsError(env, e).ThrowAsJavaScriptException();
    }
  }

  ~NativeEngine() override { shutdown(); }

 private:
  static void deliver(Napi::Env env, Napi::Function fn, EventBatch* batch) {
    if (env != nullptr && fn != nullptr) {
      Napi::Array arr = Napi::Array::New(env, batch->size());
      for (size_t i = 0; i < batch->size(); ++i) {
        const MediaEvent& ev = (*batch)[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", eventTypeName(ev.type));
        o.Set("relayId", ev.relayId);
        o.Set("leg", ev.leg);
        o.Set("rtcp", ev.rtcp);
        if (ev.endpoint.valid()) {
          o.Set("address", formatIpv4(ev.endpoint.ip));
          o.Set("port", ev.endpoint.port);
        }
        o.Set("count", double(ev.count));
        arr.Set(uint32_t(i), o);
      }
      fn.Call({arr});
    }
    delete batch;
  }

  void shutdown() {
    if (engine_) engine_->stop();
    engine_.reset();
    if (tsfn_) tsfn_.Release();
    tsfn_ = {};
  }

  Engine& engine() {
    if (!engine_) throw EngineError("media engine is closed");
    return *engine_;
  }

  Napi::Value CreateRelay(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      RelayConfig cfg;
      cfg.id = stringArg(info, 0, "relay id");
      if (info.Length() < 2 || !info[1].IsObject()) throw EngineTypeError("relay options must be an object");
      const Napi::Object o = info[1].As<Napi::Object>();
      cfg.legs[0] = legConfig(o.Get("a"));
      cfg.legs[1] = legConfig(o.Get("b"));
      if (o.Get("timeoutMs").IsNumber()) cfg.timeoutMs = u32(o, "timeoutMs", 0);
      const RelayPorts ports = engine().createRelay(cfg);
      Napi::Object out = Napi::Object::New(env);
      out.Set("worker", ports.worker);
      out.Set("a", ports.rtpPorts[0]);
      out.Set("b", ports.rtpPorts[1]);
      return out;
    });
  }

  Napi::Value SetKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      engine().setKeys(stringArg(info, 0, "relay id"), legArg(info, 1), keySpec(info[2]), keySpec(info[3]));
      return env.Undefined();
    });
  }

  Napi::Value SetRemote(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      engine().setRemote(stringArg(info, 0, "relay id"), legArg(info, 1), endpoint(info[2], "remote"),
                         endpoint(info[3], "remoteRtcp"));
      return env.Undefined();
    });
  }

  Napi::Value SetRtcpMux(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[2].IsBoolean()) throw EngineTypeError("rtcpMux must be a boolean");
      engine().setRtcpMux(stringArg(info, 0, "relay id"), legArg(info, 1), info[2].As<Napi::Boolean>().Value());
      return env.Undefined();
    });
  }

  Napi::Value DestroyRelay(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value { return Napi::Boolean::New(env, engine().destroyRelay(stringArg(info, 0, "relay id"))); });
  }

  Napi::Value SrtpIndices(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto indices = engine().srtpIndices(stringArg(info, 0, "relay id"));
      if (!indices) return env.Null();
      Napi::Array legs = Napi::Array::New(env, 2);
      for (uint32_t i = 0; i < 2; ++i) {
        Napi::Object leg = Napi::Object::New(env);
        leg.Set("recv", indicesArray(env, (*indices)[i].in));
        leg.Set("send", indicesArray(env, (*indices)[i].out));
        legs.Set(i, leg);
      }
      return legs;
    });
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const auto snapshot = engine().snapshot(stringArg(info, 0, "relay id"));
      if (!snapshot) return env.Null();
      Napi::Array legs = Napi::Array::New(env, 2);
      for (uint32_t i = 0; i < 2; ++i) {
        Napi::Object leg = Napi::Object::New(env);
        setCounters(env, leg, (*snapshot)[i]);
        legs.Set(i, leg);
      }
      return legs;
    });
  }

  Napi::Value WorkerStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const int n = engine().info().workers;
      Napi::Array out = Napi::Array::New(env, size_t(n));
      for (int i = 0; i < n; ++i) {
        const WorkerCounters& c = engine().worker(i).counters();
        Napi::Object o = Napi::Object::New(env);
        auto set = [&](const char* k, const Counter& v) { o.Set(k, double(v.get())); };
        set("packetsIn", c.packetsIn), set("bytesIn", c.bytesIn), set("packetsOut", c.packetsOut);
        set("bytesOut", c.bytesOut), set("unknownMux", c.unknownMux), set("receiveErrors", c.receiveErrors);
        set("sendErrors", c.sendErrors), set("loops", c.loops);
        const KernelCounters& k = engine().worker(i).kernelCounters();
        set("kernelInstalls", k.installs), set("kernelRemovals", k.removals), set("kernelRefusals", k.refusals);
        set("kernelPackets", k.packets), set("kernelBytes", k.bytes);
        out.Set(uint32_t(i), o);
      }
      return out;
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const EngineInfo i = engine().info();
      Napi::Object o = Napi::Object::New(env);
      o.Set("srtpBackend", i.srtpBackend);
      Napi::Array suites = Napi::Array::New(env, i.srtpSuites.size());
      for (size_t k = 0; k < i.srtpSuites.size(); ++k) suites.Set(uint32_t(k), i.srtpSuites[k]);
      o.Set("srtpSuites", suites);
      o.Set("workers", i.workers);
      Napi::Array mux = Napi::Array::New(env, i.muxPorts.size());
      for (size_t k = 0; k < i.muxPorts.size(); ++k) mux.Set(uint32_t(k), i.muxPorts[k]);
      o.Set("muxPorts", mux);
      o.Set("externalFirst", i.externalFirst);
      o.Set("externalLast", i.externalLast);
      Napi::Object kernel = Napi::Object::New(env);
      kernel.Set("active", i.kernelPath);
      kernel.Set("reason", i.kernelPathReason);
      Napi::Array ifaces = Napi::Array::New(env, i.kernelInterfaces.size());
      for (size_t k = 0; k < i.kernelInterfaces.size(); ++k) ifaces.Set(uint32_t(k), i.kernelInterfaces[k]);
      kernel.Set("interfaces", ifaces);
      o.Set("kernelPath", kernel);
      return o;
    });
  }

  Napi::Value Dump(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      const auto ids = engine().relayIds();
      Napi::Array arr = Napi::Array::New(env, ids.size());
      for (size_t k = 0; k < ids.size(); ++k) arr.Set(uint32_t(k), ids[k]);
      o.Set("relayIds", arr);
      o.Set("portPairsInUse", double(engine().portPairsInUse()));
      return o;
    });
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace
}  // namespace mra

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeEngine", mra::NativeEngine::Define(env));
  exports.Set("NativeSipTlsListener", mra::defineNativeSipTlsListener(env));
  exports.Set("NativeTurnServer", mra::defineNativeTurnServer(env, &mra::NativeEngine::portPoolOf));
  return exports;
}

NODE_API_MODULE(mra_native, InitAddon)
