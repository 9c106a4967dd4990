#include "seawall/proxy/reply_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace seawall::proxy {
namespace {

struct TestSlot {
  bool ready = false;
  std::string data;
  std::string blob;
  std::string_view view;  // into blob: relocated() points it at the moved buffer
  int relocations = 0;

  void relocated() {
    view = blob;
    ++relocations;
  }
};

// Pushes a request's slot as a session does: reset, then its sequence number.
std::uint64_t push(ReplyQueue<TestSlot>& q) {
  TestSlot& slot = q.push();
  slot.ready = false;
  slot.data.clear();
  return q.back_seq();
}

TEST(ReplyQueueTest, StartsEmptyWithoutMemory) {
  const ReplyQueue<TestSlot> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 0u);
  EXPECT_EQ(q.front_seq(), 0u);
}

TEST(ReplyQueueTest, FrontReplyIsWrittenAtOnce) {
  ReplyQueue<TestSlot> q;
  const std::uint64_t a = push(q);
  std::string out;
  q.complete(a, "+A\r\n", out);
  EXPECT_EQ(out, "+A\r\n");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.front_seq(), 1u);
}

TEST(ReplyQueueTest, LaterReplyWaitsForTheOnesAheadOfIt) {
  ReplyQueue<TestSlot> q;
  const std::uint64_t a = push(q);
  const std::uint64_t b = push(q);
  const std::uint64_t c = push(q);
  std::string out;
  q.complete(c, "+C\r\n", out);
  q.complete(b, "+B\r\n", out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(q.size(), 3u);
  q.complete(a, "+A\r\n", out);
  EXPECT_EQ(out, "+A\r\n+B\r\n+C\r\n");
  EXPECT_TRUE(q.empty());
}

TEST(ReplyQueueTest, FlushStopsAtTheFirstSlotNotReady) {
  ReplyQueue<TestSlot> q;
  const std::uint64_t a = push(q);
  const std::uint64_t b = push(q);
  const std::uint64_t c = push(q);
  std::string out;
  q.complete(c, "+C\r\n", out);
  q.complete(a, "+A\r\n", out);
  EXPECT_EQ(out, "+A\r\n");
  EXPECT_EQ(q.front_seq(), b);
  q.complete(b, "+B\r\n", out);
  EXPECT_EQ(out, "+A\r\n+B\r\n+C\r\n");
}

TEST(ReplyQueueTest, GrowsByDoublingAndKeepsOrderAcrossTheWrap) {
  ReplyQueue<TestSlot> q;
  std::string out;
  // Move the head off 0 so the ring wraps before it grows.
  for (int i = 0; i < 5; ++i) {
    q.complete(push(q), "x", out);
  }
  out.clear();
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 20; ++i) {
    seqs.push_back(push(q));
    q.at(seqs.back()).blob = "request " + std::to_string(i);
    q.at(seqs.back()).view = q.at(seqs.back()).blob;
  }
  EXPECT_EQ(q.capacity(), 32u);
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(q.at(seqs[i]).view, "request " + std::to_string(i));
  }
  for (std::size_t i = seqs.size(); i-- > 0;) {
    q.complete(seqs[i], std::to_string(i) + ";", out);
  }
  std::string want;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    want += std::to_string(i) + ";";
  }
  EXPECT_EQ(out, want);
}

TEST(ReplyQueueTest, MovedSlotsAreRelocated) {
  ReplyQueue<TestSlot> q;
  for (std::size_t i = 0; i < ReplyQueue<TestSlot>::kInitialSlots; ++i) {
    push(q);
  }
  const std::uint64_t first = q.front_seq();
  EXPECT_EQ(q.at(first).relocations, 0);
  push(q);  // grows: every waiting slot moves
  EXPECT_EQ(q.at(first).relocations, 1);
}

TEST(ReplyQueueTest, SlotsKeepTheirCapacityWhenReused) {
  ReplyQueue<TestSlot> q;
  std::string out;
  const std::uint64_t a = push(q);
  const std::uint64_t b = push(q);
  q.complete(b, std::string(1000, 'b'), out);
  q.complete(a, "a", out);
  // a and b took slots 0 and 1 of the ring of 8; seven more requests come round to slot 1.
  for (int i = 0; i < 7; ++i) {
    q.complete(push(q), "y", out);
  }
  // b's slot again: its string kept its buffer.
  const std::uint64_t again = push(q);
  EXPECT_GE(q.at(again).data.capacity(), 1000u);
}

TEST(ReplyQueueTest, ReleaseFreesOnlyWhenEmpty) {
  ReplyQueue<TestSlot> q;
  std::string out;
  const std::uint64_t a = push(q);
  q.release();
  EXPECT_GT(q.capacity(), 0u);
  q.complete(a, "a", out);
  q.release();
  EXPECT_EQ(q.capacity(), 0u);
  EXPECT_EQ(q.front_seq(), 1u);  // sequence numbers keep growing
  EXPECT_EQ(push(q), 1u);
}

}  // namespace
}  // namespace seawall::proxy
