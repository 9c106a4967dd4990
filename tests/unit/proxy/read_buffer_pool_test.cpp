#include "seawall/proxy/read_buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace seawall::proxy {
namespace {

TEST(ReadBufferTest, MoveLeavesTheSourceEmpty) {
  ReadBuffer a(64);
  const char* storage = a.data();
  ReadBuffer b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(b.data(), storage);
  ReadBuffer c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.data(), storage);
}

TEST(ReadBufferTest, GrowKeepsTheBytesAskedFor) {
  ReadBuffer buffer(8);
  std::memcpy(buffer.data(), "abcdefgh", 8);
  buffer.grow(1024, 5);
  EXPECT_EQ(buffer.size(), 1024u);
  EXPECT_EQ(std::string_view(buffer.data(), 5), "abcde");
}

TEST(ReadBufferPoolTest, AcquireGivesAFullSizeBuffer) {
  ReadBufferPool pool(1024, 4);
  ReadBuffer buffer = pool.acquire();
  EXPECT_EQ(buffer.size(), 1024u);
  EXPECT_EQ(pool.lent(), 1u);
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(ReadBufferPoolTest, ReleasedBufferIsReusedWithoutAllocating) {
  ReadBufferPool pool(1024, 4);
  ReadBuffer buffer = pool.acquire();
  const char* storage = buffer.data();
  pool.release(buffer);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(pool.lent(), 0u);
  EXPECT_EQ(pool.spare(), 1u);
  EXPECT_EQ(pool.spare_bytes(), 1024u);
  ReadBuffer again = pool.acquire();
  EXPECT_EQ(again.data(), storage);
  EXPECT_EQ(again.size(), 1024u);
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(ReadBufferPoolTest, GrownBufferIsFreedNotKept) {
  ReadBufferPool pool(1024, 4);
  ReadBuffer buffer = pool.acquire();
  buffer.grow(1024 * 1024, 1024);  // a large command grew it
  pool.release(buffer);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.data(), nullptr);
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_EQ(pool.lent(), 0u);
}

TEST(ReadBufferPoolTest, KeepsAtMostMaxSpare) {
  ReadBufferPool pool(1024, 2);
  std::vector<ReadBuffer> buffers;
  for (int i = 0; i < 5; ++i) {
    buffers.push_back(pool.acquire());
  }
  EXPECT_EQ(pool.lent(), 5u);
  for (ReadBuffer& b : buffers) {
    pool.release(b);
    EXPECT_TRUE(b.empty());
  }
  EXPECT_EQ(pool.spare(), 2u);
  EXPECT_EQ(pool.lent(), 0u);
}

TEST(ReadBufferPoolTest, TrimSpareFreesBeyondWhatItKeeps) {
  ReadBufferPool pool(1024, 8);
  std::vector<ReadBuffer> buffers;
  for (int i = 0; i < 6; ++i) {
    buffers.push_back(pool.acquire());
  }
  for (ReadBuffer& b : buffers) {
    pool.release(b);
  }
  EXPECT_EQ(pool.spare(), 6u);
  pool.trim_spare(2);
  EXPECT_EQ(pool.spare(), 2u);
  pool.trim_spare(4);
  EXPECT_EQ(pool.spare(), 2u);
}

TEST(ReadBufferPoolTest, ReleasingNothingIsIgnored) {
  ReadBufferPool pool(1024, 2);
  ReadBuffer none;
  pool.release(none);
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_EQ(pool.lent(), 0u);
}

}  // namespace
}  // namespace seawall::proxy
