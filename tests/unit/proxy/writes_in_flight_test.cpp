#include "seawall/proxy/writes_in_flight.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seawall::proxy {
namespace {

TEST(WritesInFlight, CountsEachWriteUntilItsOutcome) {
  WritesInFlight writes;
  EXPECT_FALSE(writes.any("k"));
  writes.mark("k");
  writes.mark("k");  // two writes of one key in flight
  EXPECT_TRUE(writes.any("k"));
  writes.release("k");
  EXPECT_TRUE(writes.any("k"));
  writes.release("k");
  EXPECT_FALSE(writes.any("k"));
}

TEST(WritesInFlight, OtherKeysAreMostlyUnaffected) {
  WritesInFlight writes;
  writes.mark("hot");
  int sharing = 0;
  for (int i = 0; i < 1000; ++i) {
    sharing += writes.any("key:" + std::to_string(i)) ? 1 : 0;
  }
  // A bucket of 4096 is shared by about one key in 4096: a degraded read of such a key only
  // waits for the other key's write too.
  EXPECT_LE(sharing, 5);
  writes.release("hot");
  EXPECT_FALSE(writes.any("hot"));
}

}  // namespace
}  // namespace seawall::proxy
