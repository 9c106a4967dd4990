#include "seawall/proxy/write_order.hpp"

#include <gtest/gtest.h>

#include <array>

namespace seawall::proxy {
namespace {

constexpr WritesInFlight::Owner kMe = 7;
constexpr WritesInFlight::Owner kOther = 8;
constexpr WritesInFlight::Owner kThird = 9;

class WriteOrderTest : public ::testing::Test {
 protected:
  WriteOrderPlan plan(std::initializer_list<std::string_view> keys, bool can_move) {
    const std::vector<std::string_view> k(keys);
    return plan_write(writes_, k, kMe, can_move);
  }
  WritesInFlight writes_;
};

TEST_F(WriteOrderTest, SendsWhenNoWriteOfItsKeysIsInFlight) {
  EXPECT_EQ(plan({"a", "b"}, false).order, WriteOrder::Send);
  writes_.mark("z", kOther);  // another key
  EXPECT_EQ(plan({"a", "b"}, false).order, WriteOrder::Send);
}

TEST_F(WriteOrderTest, SendsBehindItsOwnConnectionsWrites) {
  // Redis runs one connection's commands in order: nothing to keep.
  writes_.mark("a", kMe);
  EXPECT_EQ(plan({"a"}, false).order, WriteOrder::Send);
}

TEST_F(WriteOrderTest, MovesToTheOtherSendersConnectionWhenNothingOfItsOwnIsInFlight) {
  writes_.mark("a", kOther);
  const WriteOrderPlan p = plan({"a"}, true);
  EXPECT_EQ(p.order, WriteOrder::Move);
  EXPECT_EQ(p.owner, kOther);
}

TEST_F(WriteOrderTest, WaitsWhenItCannotMove) {
  writes_.mark("b", kOther);
  const WriteOrderPlan p = plan({"a", "b"}, false);
  EXPECT_EQ(p.order, WriteOrder::Wait);
  writes_.release("b");
  EXPECT_EQ(plan({"a", "b"}, false).order, WriteOrder::Send);  // the write's outcome is in
}

TEST_F(WriteOrderTest, WaitsWhenTwoOtherSendersHaveWritesOfItsKeys) {
  writes_.mark("a", kOther);
  writes_.mark("b", kThird);
  EXPECT_EQ(plan({"a", "b"}, true).order, WriteOrder::Wait);
}

TEST_F(WriteOrderTest, SendsWhenTheOrderIsLostAlready) {
  // Two senders' writes of the key are in flight (or a blocking write, marked kMixed): waiting
  // cannot order them, and the bucket may stay busy as long as their traffic lasts.
  writes_.mark("a", kOther);
  writes_.mark("a", kThird);
  EXPECT_EQ(plan({"a"}, true).order, WriteOrder::Send);
  WritesInFlight blocking;
  blocking.mark("q", WritesInFlight::kMixed);
  const std::array<std::string_view, 1> q{"q"};
  EXPECT_EQ(plan_write(blocking, q, kMe, false).order, WriteOrder::Send);
}

}  // namespace
}  // namespace seawall::proxy
