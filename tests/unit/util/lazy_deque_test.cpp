#include "seawall/util/lazy_deque.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seawall::util {
namespace {

TEST(LazyDequeTest, AllocatesNothingUntilFirstPush) {
  LazyDeque<std::string> q;
  EXPECT_FALSE(q.allocated());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.begin(), q.end());
  q.clear();
  EXPECT_FALSE(q.allocated());
}

TEST(LazyDequeTest, IsAFifo) {
  LazyDeque<int> q;
  q.push_back(1);
  q.push_back(2);
  q.push_back(3);
  EXPECT_TRUE(q.allocated());
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), 1);
  EXPECT_EQ(q.back(), 3);
  q.pop_front();
  EXPECT_EQ(q.front(), 2);
  q.pop_back();
  EXPECT_EQ(q.back(), 2);
  std::vector<int> seen(q.begin(), q.end());
  EXPECT_EQ(seen, std::vector<int>{2});
}

TEST(LazyDequeTest, ReleaseFreesOnlyWhenEmpty) {
  LazyDeque<int> q;
  q.push_back(1);
  EXPECT_FALSE(q.release());
  EXPECT_TRUE(q.allocated());
  q.clear();
  EXPECT_TRUE(q.allocated());  // clear keeps the storage for the next push
  EXPECT_TRUE(q.release());
  EXPECT_FALSE(q.allocated());
  EXPECT_FALSE(q.release());
  q.push_back(7);
  EXPECT_EQ(q.front(), 7);
}

}  // namespace
}  // namespace seawall::util
