#include <catch2/catch.hpp>

#include "srtp_session.hpp"

using mra::estimateRoc;

// RFC 3711 §3.3.1: the ROC a packet belongs to, from the stream's highest sequence number so far.
TEST_CASE("srtp index: the rollover counter a packet belongs to", "[srtp-index]") {
  CHECK(estimateRoc(0, 100, 101) == 0);        // in order
  CHECK(estimateRoc(0, 65530, 5) == 1);        // past the wrap
  CHECK(estimateRoc(1, 5, 65530) == 0);        // late, from before the wrap
  CHECK(estimateRoc(0, 5, 65530) == 0);        // late from before the start: never below ROC 0
  CHECK(estimateRoc(3, 40000, 39000) == 3);    // reordered within the same cycle
  CHECK(estimateRoc(3, 40000, 7000) == 4);     // more than half a cycle behind: the next one
  CHECK(estimateRoc(3, 20000, 60000) == 2);    // more than half a cycle ahead: the previous one
}
