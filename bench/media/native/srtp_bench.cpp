// protect/unprotect alone, through the engine's own SrtpSession (the exact calls the packet path makes), so
// the SRTP share of a relay's per-packet cost is measured without sockets. Prints ns/packet and packets/s per
// core for each suite at the bench's packet sizes. Usage: mra_srtp_bench [packets] [size...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "srtp_session.hpp"

using namespace mra;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kSlot = 2048;  // the worker's buffer size: room for the tag

void fillRtp(uint8_t* p, size_t size, uint16_t seq) {
  std::memset(p, 0xD5, size);
  p[0] = 0x80;
  p[1] = 0;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  std::memset(p + 4, 0, 4);
  p[8] = 0x10, p[9] = 0, p[10] = 0, p[11] = 1;
}

double nsPer(Clock::duration d, size_t n) { return double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / double(n); }

}  // namespace

int main(int argc, char** argv) {
  const size_t packets = argc > 1 ? size_t(std::strtoul(argv[1], nullptr, 10)) : 200000;
  std::vector<size_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(size_t(std::strtoul(argv[i], nullptr, 10)));
  if (sizes.empty()) sizes = {172, 1200};
  if (packets == 0 || packets > 2000000) {
    std::fprintf(stderr, "packets must be 1..2000000\n");
    return 2;
  }
  std::printf("# %s\n", srtpBackend().c_str());
  std::printf("%-26s %6s %12s %12s %14s %14s\n", "suite", "bytes", "protect ns", "unprot. ns", "protect pps", "unprot. pps");
  std::vector<uint8_t> buf(packets * kSlot);
  std::vector<size_t> lens(packets);
  uint8_t key[64];
  for (size_t i = 0; i < sizeof key; ++i) key[i] = uint8_t(i * 37 + 11);
  for (const std::string& name : availableSrtpSuites()) {
    const SrtpSuiteInfo* suite = findSrtpSuite(name);
    for (size_t size : sizes) {
      SrtpSession out(*suite, key, suite->keySaltLength, SrtpSession::Direction::Outbound);
      SrtpSession in(*suite, key, suite->keySaltLength, SrtpSession::Direction::Inbound);
      for (size_t i = 0; i < packets; ++i) fillRtp(&buf[i * kSlot], size, uint16_t(i));
      const auto t0 = Clock::now();
      for (size_t i = 0; i < packets; ++i) {
        lens[i] = size;
        if (out.protectRtp(&buf[i * kSlot], lens[i], kSlot) != SrtpResult::Ok) return std::fprintf(stderr, "protect failed\n"), 1;
      }
      const auto t1 = Clock::now();
      for (size_t i = 0; i < packets; ++i)
        if (in.unprotectRtp(&buf[i * kSlot], lens[i]) != SrtpResult::Ok) return std::fprintf(stderr, "unprotect failed at %zu\n", i), 1;
      const auto t2 = Clock::now();
      const double p = nsPer(t1 - t0, packets), u = nsPer(t2 - t1, packets);
      std::printf("%-26s %6zu %12.0f %12.0f %14.0f %14.0f\n", name.c_str(), size, p, u, 1e9 / p, 1e9 / u);
    }
  }
  return 0;
}
