// The N-API face of the native SIP TLS listener (class NativeSipTlsListener), registered by addon.cpp.
#pragma once
#include <napi.h>

namespace mra {
Napi::Function defineNativeSipTlsListener(Napi::Env env);
}
