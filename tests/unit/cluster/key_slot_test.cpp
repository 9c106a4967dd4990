#include "seawall/cluster/key_slot.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seawall::cluster {
namespace {

TEST(KeySlotTest, Crc16OfTheReferenceStringIsRedisCheckValue) {
  // Redis's crc16.c documents its variant by this check value.
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(KeySlotTest, KnownSlotsMatchRedis) {
  // CLUSTER KEYSLOT of each, as a Redis 7 cluster answers.
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot("123456789"), 0x31C3 & (kSlots - 1));
  EXPECT_EQ(key_slot(""), 0);
}

TEST(KeySlotTest, HashTagIsBetweenTheFirstOpenAndTheFirstCloseAfterIt) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  // A second tag is not one: only the first '{' counts.
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  // Nested: from the first '{' to the first '}'.
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
}

TEST(KeySlotTest, EmptyOrUnclosedTagHashesTheWholeKey) {
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") & (kSlots - 1));
  EXPECT_EQ(hash_tag("foo{bar"), "foo{bar");
  EXPECT_EQ(hash_tag("foo}bar{"), "foo}bar{");
  EXPECT_EQ(hash_tag("{}"), "{}");
}

TEST(KeySlotTest, BinaryKeysHashEveryByte) {
  const std::string key("a\0b", 3);
  EXPECT_NE(key_slot(key), key_slot("a"));
  EXPECT_LT(key_slot(key), kSlots);
}

}  // namespace
}  // namespace seawall::cluster
