#include <catch2/catch.hpp>

#include <set>

#include "latch.hpp"
#include "mux_demux.hpp"
#include "port_pool.hpp"
#include "relay.hpp"

using namespace mra;

TEST_CASE("latching: first packet latches, a spoofer never steals a live leg", "[latch]") {
  Latch l(LatchConfig{true, 5, 1000});
  const Endpoint client{0x0a000001, 4000}, spoofer{0x0a000002, 5000};
  CHECK(l.offer(client, 0) == Latch::Verdict::Latched);
  CHECK(l.destination() == client);
  for (uint64_t t = 10; t < 5000; t += 20) {
    CHECK(l.offer(spoofer, t) == Latch::Verdict::Foreign);
    CHECK(l.offer(client, t + 1) == Latch::Verdict::Accept);
  }
  CHECK(l.destination() == client);
}

TEST_CASE("latching: a sustained new source re-latches once the old one is silent", "[latch]") {
  Latch l(LatchConfig{true, 5, 1000});
  const Endpoint before{0x0a000001, 4000}, after{0x0a000001, 4100};
  l.offer(before, 0);
  for (int i = 0; i < 10; ++i) CHECK(l.offer(after, 100 + i) == Latch::Verdict::Foreign);  // old one not quiet yet
  CHECK(l.offer(before, 500) == Latch::Verdict::Accept);  // the old source speaks: the newcomer starts over
  for (int i = 0; i < 4; ++i) CHECK(l.offer(after, 1600 + i) == Latch::Verdict::Foreign);  // quiet, but too few
  CHECK(l.offer(after, 1605) == Latch::Verdict::Relatched);
  CHECK(l.destination() == after);
}

TEST_CASE("latching: a source the kernel path forwarded is not silent to a newcomer", "[latch][kernel]") {
  Latch l(LatchConfig{true, 5, 1000});
  const Endpoint client{0x0a000001, 4000}, spoofer{0x0a000001, 4100};
  CHECK_FALSE(l.settled());
  l.offer(client, 0);
  CHECK(l.settled());
  // Its packets went through the kernel from t=0 on; user space heard of them only by the fold at t=1990.
  l.heard(1990);
  for (int i = 0; i < 10; ++i) CHECK(l.offer(spoofer, 2000 + i) == Latch::Verdict::Foreign);
  CHECK(l.destination() == client);
}

TEST_CASE("latching off: only the signalled remote is accepted", "[latch]") {
  Latch l(LatchConfig{false, 5, 1000});
  const Endpoint core{0x7f000001, 7000};
  l.setHint(core);
  CHECK(l.offer(core, 0) == Latch::Verdict::Accept);
  CHECK(l.offer(Endpoint{0x7f000001, 7002}, 5000) == Latch::Verdict::Foreign);
  CHECK(l.settled());  // the kernel path may key a flow on it at once
}

TEST_CASE("port pool hands out even pairs, recycles the oldest, and reports exhaustion", "[ports]") {
  PortPool pool(36012, 36023);  // 6 pairs
  CHECK(pool.capacity() == 6);
  std::set<uint16_t> got;
  for (int i = 0; i < 6; ++i) {
    auto p = pool.takePair();
    REQUIRE(p);
    CHECK(*p % 2 == 0);
    CHECK(*p >= 36012);
    CHECK(*p + 1 <= 36023);
    got.insert(*p);
  }
  CHECK(got.size() == 6);
  CHECK_FALSE(pool.takePair());
  pool.releasePair(36016);
  pool.releasePair(36016);  // twice: harmless
  pool.releasePair(36017);  // odd: ignored
  CHECK(pool.inUse() == 5);
  CHECK(pool.takePair() == std::optional<uint16_t>(36016));
  CHECK_THROWS_AS(PortPool(36000, 36000), std::invalid_argument);
  PortPool odd(36001, 36004);  // starts at the next even port
  CHECK(odd.takePair() == std::optional<uint16_t>(36002));
}

TEST_CASE("mux demux finds legs by source, falls back to SSRC, drops strangers", "[mux]") {
  MuxDemux d;
  Leg a, b;
  const Endpoint coreA{0x0a000005, 50000}, coreB{0x0a000005, 50002};
  REQUIRE(d.addSource(coreA, &a));
  REQUIRE(d.addSource(coreB, &b));
  CHECK_FALSE(d.addSource(coreA, &b));
  d.addSsrc(0xb0b, &b);
  CHECK(d.find(coreA, true, 0xb0b) == &a);  // the source wins over the SSRC
  CHECK(d.find(coreB, false, 0) == &b);
  CHECK(d.find(Endpoint{0x0a000009, 1}, true, 0xb0b) == &b);
  CHECK(d.find(Endpoint{0x0a000009, 1}, true, 0x123) == nullptr);
  d.removeLeg(&b);
  CHECK(d.find(coreB, true, 0xb0b) == nullptr);
  CHECK(d.size() == 1);
}
