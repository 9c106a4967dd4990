#include "cache/open_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace seawall::cache {
namespace {

struct Value {
  std::uint64_t id = 0;
};

std::size_t find_id(const OpenTable<Value>& table, std::uint64_t hash, std::uint64_t id) {
  return table.find(hash, [id](const Value& v) { return v.id == id; });
}

TEST(OpenTableTest, FindsWhatWasInsertedAndGrows) {
  OpenTable<Value> table;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    table.insert(i * 7919, Value{i});
  }
  EXPECT_EQ(table.size(), 1000u);
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    const std::size_t slot = find_id(table, i * 7919, i);
    ASSERT_NE(slot, OpenTable<Value>::kNone) << i;
    EXPECT_EQ(table.at(slot).id, i);
  }
  EXPECT_EQ(find_id(table, 5, 5), OpenTable<Value>::kNone);
}

TEST(OpenTableTest, EqualHashesAreToldApartByTheMatch) {
  OpenTable<Value> table;
  table.insert(42, Value{1});
  table.insert(42, Value{2});
  table.insert(0, Value{3});  // held as 1: still found under 0
  table.insert(1, Value{4});
  EXPECT_EQ(table.at(find_id(table, 42, 2)).id, 2u);
  EXPECT_EQ(table.at(find_id(table, 42, 1)).id, 1u);
  EXPECT_EQ(table.at(find_id(table, 0, 3)).id, 3u);
  EXPECT_EQ(table.at(find_id(table, 1, 4)).id, 4u);
}

TEST(OpenTableTest, EraseLeavesEveryOtherValueFindable) {
  // Random inserts and erases against a map: the backward shift must never strand a value
  // before its home slot, where a probe would not look.
  OpenTable<Value> table;
  std::map<std::uint64_t, std::uint64_t> model;  // id -> hash
  std::mt19937_64 rng(7);
  std::uint64_t next_id = 1;
  for (int step = 0; step < 20000; ++step) {
    if (model.empty() || rng() % 3 != 0) {
      const std::uint64_t hash = rng() % 64;  // few distinct hashes: long probe runs
      table.insert(hash, Value{next_id});
      model[next_id++] = hash;
    } else {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      const std::size_t slot = find_id(table, it->second, it->first);
      ASSERT_NE(slot, OpenTable<Value>::kNone);
      table.erase(slot);
      model.erase(it);
    }
    if (step % 1000 == 0) {
      for (const auto& [id, hash] : model) {
        ASSERT_NE(find_id(table, hash, id), OpenTable<Value>::kNone) << "step " << step;
      }
    }
  }
  EXPECT_EQ(table.size(), model.size());
}

TEST(OpenTableTest, TheSampleMinimumIsExactInASmallTable) {
  OpenTable<Value> table;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    table.insert(i * 1000003, Value{100 - i});
  }
  const std::size_t least =
      table.least_of_sample(0, 16, [](std::uint64_t, const Value& v) { return v.id; });
  ASSERT_NE(least, OpenTable<Value>::kNone);
  EXPECT_EQ(table.at(least).id, 90u);
  EXPECT_EQ(table.hash_at(least), 10u * 1000003);  // the slot holds its hash beside the value
  std::size_t count = 0;
  table.for_each([&count](const Value&) { ++count; });
  EXPECT_EQ(count, 10u);
  table.reset();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.least_of_sample(0, 16, [](std::uint64_t, const Value& v) { return v.id; }),
            OpenTable<Value>::kNone);
}

// An entry table's slot, hash and value together, is one cache line (and aligned to one).
TEST(OpenTableTest, AlignedSlotsFillWholeLines) {
  struct Line {
    std::uint64_t words[7];
  };
  using Table = OpenTable<Line, 64>;
  static_assert(sizeof(Table::Slot) == 64);
  static_assert(alignof(Table::Slot) == 64);
  Table table;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    table.insert(i, Line{{i}});
  }
  for (std::uint64_t i = 1; i <= 100; ++i) {
    const std::size_t slot = table.find(i, [](const Line&) { return true; });
    ASSERT_NE(slot, Table::kNone);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&table.at(slot)) % 64, 8u);
    EXPECT_EQ(table.at(slot).words[0], i);
  }
}

}  // namespace
}  // namespace seawall::cache
