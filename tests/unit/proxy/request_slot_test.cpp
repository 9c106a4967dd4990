#include "seawall/proxy/request_slot.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

#include "seawall/command/command_table.hpp"

namespace seawall::proxy {
namespace {

constexpr WritesInFlight::Owner kConnection = 7;

RequestSlot write_of(std::span<const std::string_view> args, std::vector<std::uint32_t> keys) {
  RequestSlot slot;
  slot.info = command::lookup(args[0]);
  slot.is_write = true;
  slot.copy_args(args);
  slot.keys = std::move(keys);
  return slot;
}

TEST(RequestSlot, MarkedWritesCountUntilReleasedOnce) {
  WritesInFlight writes;
  const std::array<std::string_view, 5> mset{"MSET", "a", "1", "b", "2"};
  RequestSlot slot = write_of(mset, {1, 3});
  EXPECT_FALSE(slot.write_in_flight(writes));
  slot.mark_writes(writes, kConnection);
  EXPECT_TRUE(slot.writes_marked);
  EXPECT_TRUE(slot.mark.ordered);
  EXPECT_TRUE(writes.any("a"));
  EXPECT_TRUE(writes.any("b"));
  EXPECT_TRUE(slot.write_in_flight(writes));
  slot.release_writes(writes);
  EXPECT_FALSE(slot.writes_marked);
  EXPECT_FALSE(writes.any("a"));
  slot.release_writes(writes);  // its outcome is known once: a second release does nothing
  EXPECT_FALSE(writes.any("b"));
}

TEST(RequestSlot, FlushesAreNotMarked) {
  // FLUSHALL clears every copy instead; there is no key whose order it could keep.
  WritesInFlight writes;
  const std::array<std::string_view, 1> flushall{"FLUSHALL"};
  RequestSlot slot = write_of(flushall, {});
  slot.mark_writes(writes, kConnection);
  EXPECT_FALSE(slot.writes_marked);
}

TEST(RequestSlot, AnotherSlotSeesAWriteOfItsKeyInFlight) {
  WritesInFlight writes;
  const std::array<std::string_view, 3> set{"SET", "k", "v"};
  const std::array<std::string_view, 2> get{"GET", "k"};
  RequestSlot write = write_of(set, {1});
  RequestSlot read = write_of(get, {1});
  read.is_write = false;
  read.is_read = true;
  write.mark_writes(writes, kConnection);
  EXPECT_TRUE(read.write_in_flight(writes));
  write.release_writes(writes);
  EXPECT_FALSE(read.write_in_flight(writes));
}

}  // namespace
}  // namespace seawall::proxy
