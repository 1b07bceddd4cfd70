// NativeSipTlsListener: JavaScript sees whole SIP messages and connection events, in batches through one
// ThreadSafeFunction (one call pending at most, however many network threads produce), never a socket.
#include "sip_tls/tls_listener_addon.hpp"

#include <memory>
#include <mutex>
#include <vector>

#include "sip_tls/tls_listener.hpp"

namespace mra {
namespace {

// What the network threads and the JS thread share. Held by shared_ptr so that a call still queued in the
// TSFN after the listener object is gone finds it alive, sees `stopped` and drops its events.
struct EventBridge {
  std::mutex mu;
  std::vector<SipTlsEvent> events;
  bool pending = false;
  bool stopped = false;
  Napi::ThreadSafeFunction tsfn;
};

const char* typeName(SipTlsEventType t) {
  switch (t) {
    case SipTlsEventType::Open: return "open";
    case SipTlsEventType::Message: return "message";
    case SipTlsEventType::Closed: return "closed";
    case SipTlsEventType::Refused: return "refused";
    case SipTlsEventType::HandshakeFailed: return "handshakeFailed";
  }
  return "unknown";
}

uint32_t field(const Napi::Object& o, const char* key, uint32_t min, uint32_t max) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("NativeSipTlsListener: ") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != double(uint64_t(d)))
    throw Napi::TypeError::New(o.Env(), std::string("NativeSipTlsListener: ") + key + " must be an integer " +
                                            std::to_string(min) + "-" + std::to_string(max));
  return uint32_t(d);
}

std::string text(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("NativeSipTlsListener: ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

void deliver(Napi::Env env, Napi::Function fn, std::shared_ptr<EventBridge>* held) {
  std::shared_ptr<EventBridge> bridge = std::move(*held);
  delete held;
  std::vector<SipTlsEvent> batch;
  {
    std::lock_guard<std::mutex> lock(bridge->mu);
    bridge->pending = false;
    if (bridge->stopped) return;
    batch.swap(bridge->events);
  }
  if (env == nullptr || fn == nullptr || batch.empty()) return;
  Napi::HandleScope scope(env);
  Napi::Array arr = Napi::Array::New(env, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    SipTlsEvent& ev = batch[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", typeName(ev.type));
    switch (ev.type) {
      case SipTlsEventType::Open:
        o.Set("id", ev.id), o.Set("remote", ev.remote), o.Set("local", ev.local);
        break;
      case SipTlsEventType::Message:
        o.Set("id", ev.id), o.Set("data", Napi::Buffer<char>::Copy(env, ev.data.data(), ev.data.size()));
        break;
      case SipTlsEventType::Closed:
        o.Set("id", ev.id), o.Set("reason", ev.reason);
        break;
      case SipTlsEventType::Refused:
      case SipTlsEventType::HandshakeFailed:
        o.Set("remote", ev.remote), o.Set("reason", ev.reason);
        break;
    }
    arr.Set(uint32_t(i), o);
  }
  try {
    fn.Call({arr});
  } catch (const Napi::Error& e) {
    // A throwing handler surfaces as an uncaught exception, as any event handler's would (Node would otherwise
    // only print DEP0168 for an exception left in a thread-safe function's callback).
    napi_fatal_exception(env, e.Value());
  }
}

class NativeSipTlsListener : public Napi::ObjectWrap<NativeSipTlsListener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSipTlsListener",
                       {InstanceMethod<&NativeSipTlsListener::Listen>("listen"),
                        InstanceMethod<&NativeSipTlsListener::Send>("send"),
                        InstanceMethod<&NativeSipTlsListener::HoldWakes>("holdWakes"),
                        InstanceMethod<&NativeSipTlsListener::Close>("close"),
                        InstanceMethod<&NativeSipTlsListener::Stop>("stop"),
                        InstanceMethod<&NativeSipTlsListener::Stats>("stats")});
  }

  NativeSipTlsListener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSipTlsListener>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "new NativeSipTlsListener(config, onEvents)");
    const Napi::Object o = info[0].As<Napi::Object>();
    SipTlsConfig cfg;
    cfg.address = text(o, "address");
    cfg.port = uint16_t(field(o, "port", 0, 65535));
    cfg.certPem = text(o, "certPem");
    cfg.keyPem = text(o, "keyPem");
    cfg.threads = int(field(o, "threads", 1, 64));
    cfg.backlog = int(field(o, "backlog", 1, 65535));
    cfg.maxConnections = field(o, "maxConnections", 1, 10000000);
    cfg.maxHeaderBytes = field(o, "maxHeaderBytes", 1, 1 << 30);
    cfg.maxBodyBytes = field(o, "maxBodyBytes", 0, 1 << 30);
    cfg.headerTimeoutMs = field(o, "headerTimeoutMs", 0, 0x7fffffff);
    cfg.idleTimeoutMs = field(o, "idleTimeoutMs", 0, 0x7fffffff);
    cfg.handshakeTimeoutMs = field(o, "handshakeTimeoutMs", 1, 0x7fffffff);
    onEvents_ = Napi::Persistent(info[1].As<Napi::Function>());
    bridge_ = std::make_shared<EventBridge>();
    std::weak_ptr<EventBridge> weak = bridge_;
    listener_ = std::make_unique<SipTlsListener>(std::move(cfg), [weak](std::vector<SipTlsEvent>&& events) {
      auto bridge = weak.lock();
      if (!bridge) return;
      Napi::ThreadSafeFunction tsfn;
      {
        std::lock_guard<std::mutex> lock(bridge->mu);
        if (bridge->stopped || !bridge->tsfn) return;
        if (bridge->events.empty()) bridge->events = std::move(events);
        else bridge->events.insert(bridge->events.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
        if (bridge->pending) return;
        bridge->pending = true;
        tsfn = bridge->tsfn;
      }
      // Called outside the bridge's lock: the JS thread's deliver() takes it, and the TSFN has a lock of its own.
      // The TSFN stays valid here: it is released only after the threads have been joined.
      auto* held = new std::shared_ptr<EventBridge>(bridge);
      if (tsfn.NonBlockingCall(held, deliver) != napi_ok) {
        delete held;
        std::lock_guard<std::mutex> lock(bridge->mu);
        bridge->pending = false;
      }
    });
  }

  ~NativeSipTlsListener() override { shutdown(); }

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!listener_) throw Napi::Error::New(env, "NativeSipTlsListener: stopped");
    if (bridge_->tsfn) throw Napi::Error::New(env, "NativeSipTlsListener: already listening");
    // The TSFN keeps the process alive while listening, as a server socket would.
    bridge_->tsfn = Napi::ThreadSafeFunction::New(env, onEvents_.Value(), "mra-sip-tls-events", 0, 1);
    try {
      const uint16_t port = listener_->listen();
      // At environment teardown (process exit with the listener running) the threads stop before the addon goes.
      // The raw N-API pair, so that shutdown() removes exactly the hook added here.
      hooked_ = napi_add_env_cleanup_hook(env, cleanupHook, this) == napi_ok;
      return Napi::Number::New(env, port);
    } catch (const std::exception& e) {
      bridge_->tsfn.Release();
      bridge_->tsfn = {};
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "send(id, data)");
    const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (!listener_) return Napi::Boolean::New(env, false);
    if (info[1].IsBuffer()) {
      auto b = info[1].As<Napi::Buffer<char>>();
      return Napi::Boolean::New(env, listener_->send(id, b.Data(), b.Length()));
    }
    if (info[1].IsString()) {
      const std::string s = info[1].As<Napi::String>().Utf8Value();
      return Napi::Boolean::New(env, listener_->send(id, s.data(), s.size()));
    }
    throw Napi::TypeError::New(env, "send: data must be a Buffer or a string");
  }

  // JavaScript holds the threads' wakes for the rest of its turn (see SipTlsListener.sendTo).
  Napi::Value HoldWakes(const Napi::CallbackInfo& info) {
    if (listener_) listener_->holdWakes(info.Length() > 0 && info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "close(id, reason)");
    const std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "closed locally";
    if (listener_) listener_->close(info[0].As<Napi::Number>().Uint32Value(), reason);
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    const SipTlsCounters& c = counters_ ? *counters_ : listener_->counters();
    auto set = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    set("connections", double(c.connections.load())), set("handshaking", double(c.handshaking.load()));
    set("accepted", double(c.accepted.load())), set("refused", double(c.refused.load()));
    set("handshakeFailures", double(c.handshakeFailures.load())), set("messagesIn", double(c.messagesIn.load()));
    set("bytesIn", double(c.bytesIn.load())), set("messagesOut", double(c.messagesOut.load()));
    set("bytesOut", double(c.bytesOut.load())), set("memoryTrims", double(c.memoryTrims.load()));
    set("memoryTrimMs", double(c.memoryTrimMicros.load()) / 1000);
    return o;
  }

  static void cleanupHook(void* self) {
    auto* me = static_cast<NativeSipTlsListener*>(self);
    me->hooked_ = false;
    me->shutdown();
  }

  void shutdown() {
    if (hooked_) {
      hooked_ = false;
      napi_remove_env_cleanup_hook(Env(), cleanupHook, this);
    }
    if (listener_) {
      listener_->stop();
      // The final counters stay readable after stop.
      final_ = std::make_unique<SipTlsCounters>();
      copy(listener_->counters(), *final_);
      counters_ = final_.get();
      listener_.reset();
    }
    if (bridge_) {
      std::lock_guard<std::mutex> lock(bridge_->mu);
      bridge_->stopped = true;
      bridge_->events.clear();
      if (bridge_->tsfn) bridge_->tsfn.Release();
      bridge_->tsfn = {};
    }
  }

  static void copy(const SipTlsCounters& from, SipTlsCounters& to) {
    to.accepted = from.accepted.load(), to.refused = from.refused.load();
    to.handshakeFailures = from.handshakeFailures.load(), to.messagesIn = from.messagesIn.load();
    to.bytesIn = from.bytesIn.load(), to.messagesOut = from.messagesOut.load(), to.bytesOut = from.bytesOut.load();
    to.connections = from.connections.load(), to.handshaking = from.handshaking.load();
    to.memoryTrims = from.memoryTrims.load(), to.memoryTrimMicros = from.memoryTrimMicros.load();
  }

  Napi::FunctionReference onEvents_;
  std::shared_ptr<EventBridge> bridge_;
  std::unique_ptr<SipTlsListener> listener_;
  std::unique_ptr<SipTlsCounters> final_;
  const SipTlsCounters* counters_ = nullptr;
  bool hooked_ = false;
};

}  // namespace

Napi::Function defineNativeSipTlsListener(Napi::Env env) { return NativeSipTlsListener::Define(env); }

}  // namespace mra
