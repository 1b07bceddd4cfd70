// The N-API face of the TURN server (class NativeTurnServer), registered by addon.cpp. It is made over a media
// engine, whose port pool its relays draw from; addon.cpp, which knows the engine's JS class, resolves that.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>

#include "port_pool.hpp"

namespace mra {
using PortPoolOf = std::function<std::shared_ptr<PortPool>(const Napi::Value& engine)>;
Napi::Function defineNativeTurnServer(Napi::Env env, PortPoolOf poolOf);
}  // namespace mra
