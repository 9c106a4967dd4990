#include "seawall/proxy/read_buffer_pool.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace seawall::proxy {
namespace {

TEST(ReadBufferPoolTest, AcquireGivesAFullSizeBuffer) {
  ReadBufferPool pool(1024, 4);
  std::string buffer = pool.acquire();
  EXPECT_EQ(buffer.size(), 1024u);
  EXPECT_EQ(pool.lent(), 1u);
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(ReadBufferPoolTest, ReleasedBufferIsReusedWithoutAllocating) {
  ReadBufferPool pool(1024, 4);
  std::string buffer = pool.acquire();
  const char* storage = buffer.data();
  pool.release(buffer);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(pool.lent(), 0u);
  EXPECT_EQ(pool.spare(), 1u);
  EXPECT_EQ(pool.spare_bytes(), 1024u);
  std::string again = pool.acquire();
  EXPECT_EQ(again.data(), storage);
  EXPECT_EQ(again.size(), 1024u);
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(ReadBufferPoolTest, ReleaseLeavesNoHeapStorageBehind) {
  ReadBufferPool pool(1024, 4);
  std::string buffer = pool.acquire();
  pool.release(buffer);
  EXPECT_LE(buffer.capacity(), std::string().capacity());
}

TEST(ReadBufferPoolTest, GrownBufferIsFreedNotKept) {
  ReadBufferPool pool(1024, 4);
  std::string buffer = pool.acquire();
  buffer.resize(1024 * 1024);  // a large command grew it
  pool.release(buffer);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_EQ(pool.lent(), 0u);
}

TEST(ReadBufferPoolTest, KeepsAtMostMaxSpare) {
  ReadBufferPool pool(1024, 2);
  std::vector<std::string> buffers;
  for (int i = 0; i < 5; ++i) {
    buffers.push_back(pool.acquire());
  }
  EXPECT_EQ(pool.lent(), 5u);
  for (std::string& b : buffers) {
    pool.release(b);
  }
  EXPECT_EQ(pool.spare(), 2u);
  EXPECT_EQ(pool.lent(), 0u);
}

TEST(ReadBufferPoolTest, ReleasingNothingIsIgnored) {
  ReadBufferPool pool(1024, 2);
  std::string none;
  pool.release(none);
  EXPECT_EQ(pool.spare(), 0u);
  EXPECT_EQ(pool.lent(), 0u);
}

TEST(ReadBufferPoolTest, ReusedBufferHasFullSizeAfterPartialUse) {
  ReadBufferPool pool(64, 2);
  std::string buffer = pool.acquire();
  buffer.resize(10);  // size changed, capacity kept
  pool.release(buffer);
  std::string again = pool.acquire();
  EXPECT_EQ(again.size(), 64u);
}

}  // namespace
}  // namespace seawall::proxy
