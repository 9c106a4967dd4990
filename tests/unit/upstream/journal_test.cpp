#include "seawall/upstream/journal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "seawall/resp/writer.hpp"

namespace seawall::upstream {
namespace {

using namespace std::chrono_literals;
using Mode = Journal::Mode;
using Overlay = Journal::Overlay;
using Wall = std::chrono::system_clock::time_point;
using Args = std::vector<std::string_view>;

// A fixed wall clock, so that rewritten expiries are exact.
const Wall kWall{std::chrono::milliseconds{1'700'000'000'000}};
constexpr std::string_view kWallMs = "1700000000000";

std::string cmd(const Args& args) {
  std::string out;
  resp::append_command(out, args);
  return out;
}

Journal::Append put(Journal& j, const Args& args, Wall at = kWall) {
  return j.append(args, Mode::Journal, at);
}

std::vector<std::string> all(Journal& j) { return j.front(1'000'000); }

// What a read answers, with its reply: "answered:<reply>", "unknown" or "not_journaled".
std::string get(const Journal& j, std::string_view key, Wall at = kWall) {
  std::string out;
  switch (j.read_get(key, at, out)) {
    case Overlay::Answered:
      return "answered:" + out;
    case Overlay::Unknown:
      return out.empty() ? "unknown" : "unknown with output";
    case Overlay::NotJournaled:
      return out.empty() ? "not_journaled" : "not_journaled with output";
  }
  return "?";
}

std::string read(const Journal& j, const Args& args, Wall at = kWall) {
  std::string out;
  switch (j.read(args, at, out)) {
    case Overlay::Answered:
      return "answered:" + out;
    case Overlay::Unknown:
      return out.empty() ? "unknown" : "unknown with output";
    case Overlay::NotJournaled:
      return out.empty() ? "not_journaled" : "not_journaled with output";
  }
  return "?";
}

std::string bulk(std::string_view v) {
  return "answered:$" + std::to_string(v.size()) + "\r\n" + std::string(v) + "\r\n";
}
const std::string kNil = "answered:$-1\r\n";

std::string temp_path(std::string_view name) {
  const std::string path = ::testing::TempDir() + "/journal_test_" + std::to_string(::getpid()) +
                           "_" + std::string(name);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".tmp");
  return path;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

JournalConfig file_config(const std::string& path, JournalFsync fsync) {
  JournalConfig c;
  c.path = path;
  c.fsync = fsync;
  return c;
}

// ---- order, front and pop ------------------------------------------------------------------

TEST(JournalTest, KeepsOrderAndPops) {
  Journal j(JournalConfig{});
  EXPECT_TRUE(j.empty());
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "b", "f", "v"}), Journal::Append::Ok);
  EXPECT_FALSE(j.empty());
  EXPECT_EQ(j.entries(), 2u);
  EXPECT_EQ(j.bytes(), cmd({"SET", "a", "1"}).size() + cmd({"HSET", "b", "f", "v"}).size());
  EXPECT_EQ(j.front(10),
            (std::vector<std::string>{cmd({"SET", "a", "1"}), cmd({"HSET", "b", "f", "v"})}));
  j.pop(1);
  EXPECT_EQ(j.front(10), (std::vector<std::string>{cmd({"HSET", "b", "f", "v"})}));
  j.pop(1);
  EXPECT_TRUE(j.empty());
  EXPECT_EQ(j.bytes(), 0u);
  EXPECT_EQ(j.appended_total(), 2u);
  EXPECT_EQ(j.replayed_total(), 2u);
}

TEST(JournalTest, CommandNamesInAnyCase) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"set", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"hMsEt", "h", "f", "v"}), Journal::Append::Ok);
  EXPECT_EQ(all(j),
            (std::vector<std::string>{cmd({"SET", "a", "1"}), cmd({"HSET", "h", "f", "v"})}));
}

TEST(JournalTest, SixteenThousandSetsToAThousandKeysAreAThousandEntries) {
  Journal j(JournalConfig{});
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int i = 0; i < 16000; ++i) {
    keys.push_back("key:" + std::to_string(i % 1000));
    values.push_back("v" + std::to_string(i));
    ASSERT_EQ(put(j, {"SET", keys.back(), values.back()}), Journal::Append::Ok);
  }
  EXPECT_EQ(j.entries(), 1000u);
  EXPECT_EQ(j.appended_total(), 16000u);
  EXPECT_EQ(j.superseded_total(), 15000u);
  const std::vector<std::string> replay = all(j);
  ASSERT_EQ(replay.size(), 1000u);
  // Keys in the order of their last write, each with its last value.
  for (int k = 0; k < 1000; ++k) {
    EXPECT_EQ(replay[static_cast<std::size_t>(k)],
              cmd({"SET", "key:" + std::to_string(k), "v" + std::to_string(15000 + k)}));
  }
}

TEST(JournalTest, DelSupersedesEverythingBefore) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "k", "v"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"EXPIRE", "k", "10"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "k"}), Journal::Append::Ok);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"DEL", "k"})}));
  EXPECT_EQ(j.entries(), 1u);
  EXPECT_EQ(j.bytes(), cmd({"DEL", "k"}).size());
  EXPECT_EQ(j.superseded_total(), 2u);
}

TEST(JournalTest, PartialWritesFollowTheKeysEarlierEntries) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"DEL", "h"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "h", "f", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HDEL", "h", "g"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SADD", "s", "m"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HMSET", "h", "g", "2"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PERSIST", "h"}), Journal::Append::Ok);
  EXPECT_EQ(j.superseded_total(), 0u);
  // Keys by last write: s, then h with all of its entries in order.
  EXPECT_EQ(all(j),
            (std::vector<std::string>{cmd({"SADD", "s", "m"}), cmd({"DEL", "h"}),
                                      cmd({"HSET", "h", "f", "1"}), cmd({"HDEL", "h", "g"}),
                                      cmd({"HSET", "h", "g", "2"}), cmd({"PERSIST", "h"})}));
  ASSERT_EQ(put(j, {"SET", "h", "s"}), Journal::Append::Ok);
  EXPECT_EQ(j.superseded_total(), 5u);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SADD", "s", "m"}), cmd({"SET", "h", "s"})}));
}

TEST(JournalTest, SplitsMultiKeyWritesPerKey) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"MSET", "a", "1", "b", "2"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "c", "d"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"UNLINK", "e", "f"}), Journal::Append::Ok);
  EXPECT_EQ(j.entries(), 6u);
  EXPECT_EQ(j.appended_total(), 6u);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "a", "1"}), cmd({"SET", "b", "2"}),
                                              cmd({"DEL", "c"}), cmd({"DEL", "d"}),
                                              cmd({"UNLINK", "e"}), cmd({"UNLINK", "f"})}));
}

TEST(JournalTest, MsetSupersedesPerKeyAndWithinItself) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "b", "f", "v"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "c", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"MSET", "a", "2", "b", "2", "a", "3"}), Journal::Append::Ok);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "c", "1"}), cmd({"SET", "b", "2"}),
                                              cmd({"SET", "a", "3"})}));
  EXPECT_EQ(j.entries(), 3u);
  // SET a 1, HSET b, and MSET's own SET a 2.
  EXPECT_EQ(j.superseded_total(), 3u);
  EXPECT_EQ(j.appended_total(), 5u);
}

TEST(JournalTest, RewritesRelativeExpiriesWithTheWallClock) {
  Journal j(JournalConfig{});
  const std::string at10s = "1700000010000";
  ASSERT_EQ(put(j, {"SETEX", "a", "10", "v"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PSETEX", "b", "10000", "v"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "c", "v", "ex", "10"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "d", "v", "PX", "10000"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "e", "v", "EXAT", "1700000010"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "f", "v", "PXAT", at10s}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "g", "v", "KEEPTTL"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"EXPIRE", "h", "10"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PEXPIRE", "i", "10000"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"EXPIREAT", "k", "1700000010"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PEXPIREAT", "l", at10s}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"EXPIRE", "m", "-5"}), Journal::Append::Ok);
  EXPECT_EQ(all(j), (std::vector<std::string>{
                        cmd({"SET", "a", "v", "PXAT", at10s}),
                        cmd({"SET", "b", "v", "PXAT", at10s}),
                        cmd({"SET", "c", "v", "PXAT", at10s}),
                        cmd({"SET", "d", "v", "PXAT", at10s}),
                        cmd({"SET", "e", "v", "PXAT", at10s}),
                        cmd({"SET", "f", "v", "PXAT", at10s}),
                        cmd({"SET", "g", "v", "KEEPTTL"}),
                        cmd({"PEXPIREAT", "h", at10s}),
                        cmd({"PEXPIREAT", "i", at10s}),
                        cmd({"PEXPIREAT", "k", at10s}),
                        cmd({"PEXPIREAT", "l", at10s}),
                        cmd({"PEXPIREAT", "m", "1699999995000"}),
                    }));
}

TEST(JournalTest, SetKeepTtlDoesNotSupersedeAnExpiry) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"EXPIRE", "k", "10"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "k", "v", "KEEPTTL"}), Journal::Append::Ok);
  EXPECT_EQ(j.entries(), 2u);
  EXPECT_EQ(get(j, "k"), bulk("v"));
  EXPECT_EQ(get(j, "k", kWall + 10s), kNil);
}

TEST(JournalTest, RefusesWhatItCannotStoreAndStoresNothing) {
  Journal j(JournalConfig{});
  const std::vector<Args> refused = {
      {"SET", "k", "v", "NX"},
      {"SET", "k", "v", "GET"},
      {"SET", "k", "v", "EX"},
      {"SET", "k", "v", "EX", "0"},
      {"SET", "k", "v", "EX", "-1"},
      {"SET", "k", "v", "EX", "x"},
      {"SET", "k", "v", "EX", "1", "PX", "1"},
      {"SET", "k", "v", "KEEPTTL", "EX", "1"},
      {"SET", "k", "v", "EX", "9223372036854775807"},
      {"SETEX", "k", "0", "v"},
      {"SETEX", "k", "01", "v"},
      {"PSETEX", "k", "-1", "v"},
      {"EXPIRE", "k", "10", "NX"},
      {"EXPIRE", "k", "+1"},
      {"PEXPIRE", "k", "9223372036854775807"},
      {"ZADD", "z", "NX", "1", "m"},
      {"ZADD", "z", "1"},
      {"MSET", "a", "1", "b"},
      {"HSET", "h", "f"},
      {"INCR", "n"},
      {"GET", "k"},
      {"NOSUCHCOMMAND", "k"},
      {"SET", "k"},
  };
  for (const Args& args : refused) {
    EXPECT_EQ(put(j, args), Journal::Append::Unsupported) << cmd(args);
  }
  EXPECT_TRUE(j.empty());
  EXPECT_EQ(get(j, "k"), "not_journaled");
  EXPECT_EQ(j.rejected_total(), 0u);
}

TEST(JournalTest, InvalidateJournalsADelOfEachKey) {
  Journal j(JournalConfig{});
  ASSERT_EQ(j.append(Args{"SET", "x", "1"}, Mode::Journal, kWall), Journal::Append::Ok);
  ASSERT_EQ(j.append(Args{"MSET", "x", "2", "y", "3"}, Mode::Invalidate, kWall),
            Journal::Append::Ok);
  ASSERT_EQ(j.append(Args{"HSET", "h", "f", "v"}, Mode::Invalidate, kWall), Journal::Append::Ok);
  EXPECT_EQ(all(j),
            (std::vector<std::string>{cmd({"DEL", "x"}), cmd({"DEL", "y"}), cmd({"DEL", "h"})}));
  // The value the application wrote is not known: never nil, never the older "1".
  EXPECT_EQ(get(j, "x"), "unknown");
  EXPECT_EQ(read(j, {"HGET", "h", "f"}), "unknown");
  EXPECT_EQ(read(j, {"EXISTS", "y"}), "unknown");
  // A later journaled whole-value write makes it known again.
  ASSERT_EQ(put(j, {"SET", "x", "4"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "x"), bulk("4"));
}

// ---- bounds --------------------------------------------------------------------------------

TEST(JournalTest, BoundsCountLiveEntries) {
  JournalConfig c;
  c.max_entries = 2;
  Journal j(c);
  EXPECT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  EXPECT_EQ(put(j, {"SET", "b", "1"}), Journal::Append::Ok);
  EXPECT_EQ(put(j, {"SET", "c", "1"}), Journal::Append::Full);
  // Rewriting a key does not grow the journal.
  EXPECT_EQ(put(j, {"SET", "a", "2"}), Journal::Append::Ok);
  EXPECT_EQ(put(j, {"HSET", "a", "f", "v"}), Journal::Append::Full);
  EXPECT_EQ(j.entries(), 2u);
  EXPECT_EQ(j.rejected_total(), 2u);
}

TEST(JournalTest, AWriteThatDoesNotFitIsRefusedWhole) {
  JournalConfig c;
  c.max_entries = 3;
  Journal j(c);
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  EXPECT_EQ(put(j, {"MSET", "b", "1", "c", "1", "d", "1"}), Journal::Append::Full);
  EXPECT_EQ(put(j, {"DEL", "b", "c", "d"}), Journal::Append::Full);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "a", "1"})}));
  EXPECT_EQ(get(j, "b"), "not_journaled");
  EXPECT_EQ(get(j, "a"), bulk("1"));
  // Fits once what it supersedes is counted out.
  EXPECT_EQ(put(j, {"MSET", "a", "2", "b", "1", "c", "1"}), Journal::Append::Ok);
}

TEST(JournalTest, RefusesWhenFullByBytes) {
  const std::string set = cmd({"SET", "k", "v"});
  JournalConfig c;
  c.max_bytes = 2 * set.size() - 1;
  Journal j(c);
  EXPECT_EQ(put(j, {"SET", "k", "v"}), Journal::Append::Ok);
  EXPECT_EQ(put(j, {"SET", "l", "v"}), Journal::Append::Full);
  EXPECT_EQ(put(j, {"SET", "k", "w"}), Journal::Append::Ok);
  EXPECT_EQ(j.bytes(), set.size());
}

// ---- replay protocol -------------------------------------------------------------------------

TEST(JournalTest, PopDropsWhatFrontHandedOutEvenWithAppendsInBetween) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "b", "1"}), Journal::Append::Ok);
  EXPECT_EQ(j.front(2).size(), 2u);
  // Written while the batch is in flight: b moves to the back in the order, a supersedes
  // nothing live outside the batch.
  ASSERT_EQ(put(j, {"SET", "c", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "b", "f", "v"}), Journal::Append::Ok);
  j.pop(2);
  EXPECT_EQ(all(j),
            (std::vector<std::string>{cmd({"SET", "c", "1"}), cmd({"HSET", "b", "f", "v"})}));
}

TEST(JournalTest, AnEntrySupersededInFlightIsPoppedButNotSentAgain) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "b", "1"}), Journal::Append::Ok);
  EXPECT_EQ(j.front(1), (std::vector<std::string>{cmd({"SET", "a", "1"})}));
  ASSERT_EQ(put(j, {"SET", "a", "2"}), Journal::Append::Ok);
  EXPECT_EQ(j.entries(), 2u);  // SET b 1, SET a 2
  EXPECT_EQ(j.superseded_total(), 1u);
  // That batch failed: the next one does not send SET a 1 again.
  EXPECT_EQ(j.front(10),
            (std::vector<std::string>{cmd({"SET", "b", "1"}), cmd({"SET", "a", "2"})}));
  // This time it is replayed: the two go, nothing else.
  ASSERT_EQ(put(j, {"SET", "c", "1"}), Journal::Append::Ok);
  j.pop(2);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "c", "1"})}));
  EXPECT_EQ(j.entries(), 1u);

  // Superseded while in flight and then popped after a successful replay.
  Journal k(JournalConfig{});
  ASSERT_EQ(put(k, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(k, {"SET", "b", "1"}), Journal::Append::Ok);
  EXPECT_EQ(k.front(2).size(), 2u);
  ASSERT_EQ(put(k, {"DEL", "a"}), Journal::Append::Ok);
  k.pop(2);
  EXPECT_EQ(all(k), (std::vector<std::string>{cmd({"DEL", "a"})}));
  EXPECT_EQ(k.replayed_total(), 2u);
  k.pop(1);
  EXPECT_TRUE(k.empty());
}

// ---- read overlay --------------------------------------------------------------------------

TEST(JournalOverlayTest, GetAfterSetDelAndExpiry) {
  Journal j(JournalConfig{});
  EXPECT_EQ(get(j, "a"), "not_journaled");
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"MSET", "b", "2", "c", "3"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "c"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SETEX", "d", "10", "4"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "e", "5", "PXAT", "1600000000000"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "a"), bulk("1"));
  EXPECT_EQ(get(j, "b"), bulk("2"));
  EXPECT_EQ(get(j, "c"), kNil);
  EXPECT_EQ(get(j, "d"), bulk("4"));
  EXPECT_EQ(get(j, "d", kWall + 9999ms), bulk("4"));
  EXPECT_EQ(get(j, "d", kWall + 10s), kNil);
  EXPECT_EQ(get(j, "e"), kNil);  // written already expired: Redis deletes it
  EXPECT_EQ(get(j, "x"), "not_journaled");
  EXPECT_EQ(read(j, {"GET", "a"}), bulk("1"));
  EXPECT_EQ(read(j, {"get", "c"}), kNil);
  EXPECT_EQ(read(j, {"GET", "x"}), "not_journaled");
}

TEST(JournalOverlayTest, GetOfAValueNotKnown) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"EXPIRE", "old", "100"}), Journal::Append::Ok);  // value from before
  ASSERT_EQ(put(j, {"SET", "s", "v"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "s", "f", "v"}), Journal::Append::Ok);  // WRONGTYPE in Redis
  ASSERT_EQ(put(j, {"HSET", "h", "f", "v"}), Journal::Append::Ok);  // a hash, not a string
  ASSERT_EQ(put(j, {"SADD", "set", "m"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "old"), "unknown");
  EXPECT_EQ(get(j, "s"), "unknown");
  EXPECT_EQ(get(j, "h"), "unknown");
  EXPECT_EQ(get(j, "set"), "unknown");
  // Expired by its journaled expiry: gone whatever it held.
  EXPECT_EQ(get(j, "old", kWall + 100s), kNil);
  ASSERT_EQ(put(j, {"PEXPIREAT", "old2", "1"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "old2"), kNil);
}

TEST(JournalOverlayTest, PersistKeepsAValue) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "k", "v", "EX", "10"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PERSIST", "k"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "k", kWall + 1h), bulk("v"));
  ASSERT_EQ(put(j, {"PEXPIRE", "k", "500"}), Journal::Append::Ok);
  EXPECT_EQ(get(j, "k", kWall + 499ms), bulk("v"));
  EXPECT_EQ(get(j, "k", kWall + 500ms), kNil);
}

TEST(JournalOverlayTest, AnExpiryThatPassedBeforeALaterWriteEmptiedTheKey) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"HSET", "h", "f", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"PEXPIRE", "h", "1000"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "h", "other"}), "unknown");
  ASSERT_EQ(put(j, {"HSET", "h", "g", "2"}, kWall + 2s), Journal::Append::Ok);
  // At that write the hash had expired: it now holds g only.
  EXPECT_EQ(read(j, {"HGET", "h", "g"}, kWall + 2s), bulk("2"));
  EXPECT_EQ(read(j, {"HGET", "h", "f"}, kWall + 2s), kNil);
  EXPECT_EQ(read(j, {"HGET", "h", "other"}, kWall + 2s), kNil);
  EXPECT_EQ(read(j, {"EXISTS", "h"}, kWall + 2s), "answered::1\r\n");
}

TEST(JournalOverlayTest, MgetPerKey) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"MSET", "a", "1", "b", "2"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "c"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "h", "f", "v"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"MGET", "a", "c", "b"}), "answered:*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  // A key the journal does not hold: read() cannot answer, read_get() per key can.
  EXPECT_EQ(read(j, {"MGET", "a", "x"}), "unknown");
  EXPECT_EQ(get(j, "a"), bulk("1"));
  EXPECT_EQ(get(j, "x"), "not_journaled");
  EXPECT_EQ(read(j, {"MGET", "a", "h"}), "unknown");
  EXPECT_EQ(read(j, {"MGET", "x", "y"}), "not_journaled");
}

TEST(JournalOverlayTest, HgetFields) {
  Journal j(JournalConfig{});
  // h existed before the outage (or not): only the touched fields are known.
  ASSERT_EQ(put(j, {"HSET", "h", "f", "1", "g", "2"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HDEL", "h", "g", "z"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HMSET", "h", "f", "3"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "h", "f"}), bulk("3"));
  EXPECT_EQ(read(j, {"HGET", "h", "g"}), kNil);
  EXPECT_EQ(read(j, {"HGET", "h", "z"}), kNil);
  EXPECT_EQ(read(j, {"HGET", "h", "untouched"}), "unknown");
  EXPECT_EQ(read(j, {"EXISTS", "h"}), "unknown");
  // After a DEL every field is known.
  ASSERT_EQ(put(j, {"DEL", "n"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"HSET", "n", "a", "1"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "n", "a"}), bulk("1"));
  EXPECT_EQ(read(j, {"HGET", "n", "b"}), kNil);
  EXPECT_EQ(read(j, {"EXISTS", "n"}), "answered::1\r\n");
  ASSERT_EQ(put(j, {"HDEL", "n", "a"}), Journal::Append::Ok);  // the last field: n is gone
  EXPECT_EQ(read(j, {"EXISTS", "n"}), "answered::0\r\n");
  EXPECT_EQ(read(j, {"HGET", "n", "a"}), kNil);
  // A string is not a hash.
  ASSERT_EQ(put(j, {"SET", "s", "v"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "s", "f"}), "unknown");
  ASSERT_EQ(put(j, {"DEL", "d"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "d", "f"}), kNil);
}

TEST(JournalOverlayTest, Exists) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "b"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"DEL", "s"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SADD", "s", "m"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SADD", "t", "m"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"EXISTS", "a"}), "answered::1\r\n");
  EXPECT_EQ(read(j, {"EXISTS", "b"}), "answered::0\r\n");
  EXPECT_EQ(read(j, {"EXISTS", "s"}), "answered::1\r\n");
  EXPECT_EQ(read(j, {"EXISTS", "t"}), "unknown");
  EXPECT_EQ(read(j, {"EXISTS", "a", "b", "a"}), "answered::2\r\n");
  EXPECT_EQ(read(j, {"EXISTS", "a", "x"}), "unknown");
  EXPECT_EQ(read(j, {"EXISTS", "x"}), "not_journaled");
  ASSERT_EQ(put(j, {"SREM", "s", "m"}), Journal::Append::Ok);  // maybe empty now
  EXPECT_EQ(read(j, {"EXISTS", "s"}), "unknown");
}

TEST(JournalOverlayTest, OtherReadsOfJournaledKeysAreUnknown) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"STRLEN", "a"}), "unknown");
  EXPECT_EQ(read(j, {"TTL", "a"}), "unknown");
  EXPECT_EQ(read(j, {"HGETALL", "a"}), "unknown");
  EXPECT_EQ(read(j, {"STRLEN", "x"}), "not_journaled");
  EXPECT_EQ(read(j, {"PING"}), "not_journaled");
}

TEST(JournalOverlayTest, KeptUntilTheJournalIsEmpty) {
  Journal j(JournalConfig{});
  ASSERT_EQ(put(j, {"SET", "a", "1"}), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "b", "2"}), Journal::Append::Ok);
  j.front(1);
  j.pop(1);  // SET a 1 is in Redis, SET b 2 not yet: reads of a still come here
  EXPECT_EQ(get(j, "a"), bulk("1"));
  EXPECT_EQ(get(j, "b"), bulk("2"));
  j.front(1);
  j.pop(1);
  EXPECT_TRUE(j.empty());
  EXPECT_EQ(get(j, "a"), "not_journaled");
  EXPECT_EQ(get(j, "b"), "not_journaled");
  // And it starts over.
  ASSERT_EQ(put(j, {"HSET", "a", "f", "v"}), Journal::Append::Ok);
  EXPECT_EQ(read(j, {"HGET", "a", "f"}), bulk("v"));
  EXPECT_EQ(read(j, {"HGET", "a", "g"}), "unknown");
}

// ---- the file ------------------------------------------------------------------------------

TEST(JournalFileTest, AlwaysHasEveryEntryInTheFileWhenAppendReturns) {
  const std::string path = temp_path("always");
  Journal j(file_config(path, JournalFsync::Always));
  std::size_t loaded = 99;
  ASSERT_EQ(j.load(loaded, kWall), "");
  EXPECT_EQ(loaded, 0u);
  ASSERT_EQ(put(j, {"MSET", "a", "1", "b", "2"}), Journal::Append::Ok);
  EXPECT_EQ(file_text(path), cmd({"SET", "a", "1"}) + cmd({"SET", "b", "2"}));
  EXPECT_EQ(j.syncs_total(), 1u);
  ASSERT_EQ(put(j, {"SETEX", "c", "1", "v"}), Journal::Append::Ok);
  EXPECT_EQ(file_text(path), cmd({"SET", "a", "1"}) + cmd({"SET", "b", "2"}) +
                                 cmd({"SET", "c", "v", "PXAT", "1700000001000"}));
  EXPECT_EQ(j.syncs_total(), 2u);
  EXPECT_EQ(j.sync_errors_total(), 0u);
  std::filesystem::remove(path);
}

TEST(JournalFileTest, ReloadAfterACrashIsTheSameCompactedJournal) {
  const std::string path = temp_path("crash");
  const auto c = file_config(path, JournalFsync::Always);
  Journal before(c);
  std::size_t loaded = 0;
  ASSERT_EQ(before.load(loaded, kWall), "");
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    const std::string value = "v" + std::to_string(i);
    ASSERT_EQ(put(before, {"SET", key, value}), Journal::Append::Ok);
    if (i % 5 == 0) {
      ASSERT_EQ(put(before, {"HSET", "h" + std::to_string(i % 3), key, value}),
                Journal::Append::Ok);
    }
    if (i % 11 == 0) {
      ASSERT_EQ(put(before, {"DEL", "h" + std::to_string(i % 3), key}), Journal::Append::Ok);
    }
  }
  ASSERT_EQ(put(before, {"EXPIRE", "k1", "100"}), Journal::Append::Ok);
  // `before` never shuts down (a kill -9): a second journal opens the same file.
  Journal after(c);
  ASSERT_EQ(after.load(loaded, kWall + 1s), "");
  EXPECT_EQ(loaded, before.entries());
  EXPECT_EQ(after.bytes(), before.bytes());
  for (std::string_view key : {"k0", "k1", "k6", "h0", "h1", "h2"}) {
    EXPECT_EQ(get(after, key), get(before, key)) << key;
    EXPECT_EQ(read(after, {"HGET", key, "k3"}), read(before, {"HGET", key, "k3"})) << key;
  }
  EXPECT_EQ(all(after), all(before));
  std::filesystem::remove(path);
}

TEST(JournalFileTest, SurvivesARestartAndTruncatesWhenDrained) {
  const std::string path = temp_path("restart");
  const auto c = file_config(path, JournalFsync::Everysec);
  {
    Journal j(c);
    std::size_t loaded = 99;
    ASSERT_EQ(j.load(loaded, kWall), "");
    ASSERT_EQ(put(j, {"SET", "k", "v"}), Journal::Append::Ok);
    ASSERT_EQ(put(j, {"HSET", "h", "f", "v"}), Journal::Append::Ok);
  }
  {
    Journal j(c);
    std::size_t loaded = 0;
    ASSERT_EQ(j.load(loaded, kWall), "");
    EXPECT_EQ(loaded, 2u);
    EXPECT_EQ(j.entries(), 2u);
    EXPECT_EQ(get(j, "k"), bulk("v"));  // read your writes across the restart
    EXPECT_EQ(j.front(10),
              (std::vector<std::string>{cmd({"SET", "k", "v"}), cmd({"HSET", "h", "f", "v"})}));
    j.pop(2);
    EXPECT_TRUE(j.empty());
  }
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
  std::filesystem::remove(path);
}

TEST(JournalFileTest, ATornLastEntryIsDroppedAndCutOff) {
  const std::string path = temp_path("torn");
  const auto c = file_config(path, JournalFsync::Always);
  {
    Journal j(c);
    std::size_t loaded = 0;
    ASSERT_EQ(j.load(loaded, kWall), "");
    ASSERT_EQ(put(j, {"SET", "k", "v"}), Journal::Append::Ok);
    ASSERT_EQ(put(j, {"DEL", "d"}), Journal::Append::Ok);
  }
  const std::string good = file_text(path);
  {
    std::ofstream torn(path, std::ios::app | std::ios::binary);
    torn << "*2\r\n$3\r\nDE";  // a crash in the middle of an append
  }
  {
    Journal j(c);
    std::size_t loaded = 0;
    ASSERT_EQ(j.load(loaded, kWall), "");
    EXPECT_EQ(loaded, 2u);
    EXPECT_EQ(file_text(path), good);
    // What is appended next is readable at the next load.
    ASSERT_EQ(put(j, {"SET", "n", "1"}), Journal::Append::Ok);
  }
  Journal j(c);
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "k", "v"}), cmd({"DEL", "d"}),
                                              cmd({"SET", "n", "1"})}));
  std::filesystem::remove(path);
}

TEST(JournalFileTest, LoadCompactsAndSplitsWhatTheFileHolds) {
  // As a file from the previous version: whole commands, multi-key, relative TTLs.
  const std::string path = temp_path("old_format");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 50; ++i) {
      out << cmd({"SET", "k", "v" + std::to_string(i)});
    }
    out << cmd({"MSET", "a", "1", "b", "2"}) << cmd({"DEL", "a", "c"})
        << cmd({"SETEX", "t", "10", "v"}) << cmd({"HMSET", "h", "f", "v"});
  }
  Journal j(file_config(path, JournalFsync::No));
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  EXPECT_EQ(loaded, 6u);
  EXPECT_EQ(j.superseded_total(), 50u);  // 49 SET k, SET a 1
  EXPECT_EQ(j.appended_total(), 0u);
  EXPECT_EQ(get(j, "k"), bulk("v49"));
  EXPECT_EQ(get(j, "a"), kNil);
  EXPECT_EQ(all(j), (std::vector<std::string>{cmd({"SET", "k", "v49"}), cmd({"SET", "b", "2"}),
                                              cmd({"DEL", "a"}), cmd({"DEL", "c"}),
                                              cmd({"SET", "t", "v", "PXAT", "1700000010000"}),
                                              cmd({"HSET", "h", "f", "v"})}));
  std::filesystem::remove(path);
}

TEST(JournalFileTest, RewritesTheFileWhenItHoldsMostlySupersededEntries) {
  const std::string path = temp_path("rewrite");
  const auto c = file_config(path, JournalFsync::No);
  const std::string value(100 * 1024, 'x');
  std::uint64_t largest = 0;
  {
    Journal j(c);
    std::size_t loaded = 0;
    ASSERT_EQ(j.load(loaded, kWall), "");
    ASSERT_EQ(put(j, {"SET", "other", "1"}), Journal::Append::Ok);
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(put(j, {"SET", "big", value + std::to_string(i)}), Journal::Append::Ok);
      largest = std::max<std::uint64_t>(largest, std::filesystem::file_size(path));
    }
    EXPECT_EQ(j.entries(), 2u);
    // 10 MB were appended; the file never held much more than the 1 MiB floor.
    EXPECT_LT(largest, 1024u * 1024 + 2 * value.size());
    EXPECT_GT(j.syncs_total(), 0u);  // a rewrite is synced whatever journal.fsync says
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    ASSERT_EQ(put(j, {"SET", "after", "1"}), Journal::Append::Ok);  // appends to the new file
  }
  Journal j(c);
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  EXPECT_EQ(loaded, 3u);
  EXPECT_EQ(get(j, "big"), bulk(value + "99"));
  EXPECT_EQ(get(j, "other"), bulk("1"));
  EXPECT_EQ(get(j, "after"), bulk("1"));
  std::filesystem::remove(path);
}

TEST(JournalFileTest, LoadRewritesALargeMostlySupersededFile) {
  const std::string path = temp_path("rewrite_at_load");
  const std::string value(64 * 1024, 'y');
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 40; ++i) {
      out << cmd({"SET", "k", value});
    }
  }
  Journal j(file_config(path, JournalFsync::No));
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  EXPECT_EQ(loaded, 1u);
  EXPECT_EQ(std::filesystem::file_size(path), cmd({"SET", "k", value}).size());
  std::filesystem::remove(path);
}

TEST(JournalFileTest, EverysecSyncsAtMostOnceASecondFromEitherSide) {
  const std::string path = temp_path("everysec");
  Journal j(file_config(path, JournalFsync::Everysec));
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  j.sync_if_due(t0);  // starts the health checker's second
  ASSERT_EQ(put(j, {"SET", "a", "1"}, kWall), Journal::Append::Ok);  // starts append's second
  ASSERT_EQ(put(j, {"SET", "a", "2"}, kWall + 999ms), Journal::Append::Ok);
  j.sync_if_due(t0 + 999ms);
  EXPECT_EQ(j.syncs_total(), 0u);
  ASSERT_EQ(put(j, {"SET", "a", "3"}, kWall + 1s), Journal::Append::Ok);  // due: syncs
  EXPECT_EQ(j.syncs_total(), 1u);
  // The tick a moment later does not sync again, nor a second after its own last one...
  ASSERT_EQ(put(j, {"SET", "a", "4"}, kWall + 1100ms), Journal::Append::Ok);
  j.sync_if_due(t0 + 1100ms);
  EXPECT_EQ(j.syncs_total(), 1u);
  // ...but a second after that.
  j.sync_if_due(t0 + 2100ms);
  EXPECT_EQ(j.syncs_total(), 2u);
  // Nothing written since: nothing to sync.
  j.sync_if_due(t0 + 5s);
  EXPECT_EQ(j.syncs_total(), 2u);
  // The append right after the tick's sync starts a fresh second.
  ASSERT_EQ(put(j, {"SET", "a", "5"}, kWall + 2200ms), Journal::Append::Ok);
  ASSERT_EQ(put(j, {"SET", "a", "6"}, kWall + 3100ms), Journal::Append::Ok);
  EXPECT_EQ(j.syncs_total(), 2u);
  ASSERT_EQ(put(j, {"SET", "a", "7"}, kWall + 3200ms), Journal::Append::Ok);
  EXPECT_EQ(j.syncs_total(), 3u);
  std::filesystem::remove(path);
}

TEST(JournalFileTest, FsyncNoNeverSyncs) {
  const std::string path = temp_path("fsync_no");
  Journal j(file_config(path, JournalFsync::No));
  std::size_t loaded = 0;
  ASSERT_EQ(j.load(loaded, kWall), "");
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(put(j, {"SET", "a", std::to_string(i)}, kWall + i * 2s), Journal::Append::Ok);
    j.sync_if_due(t0 + i * 2s);
  }
  EXPECT_EQ(j.syncs_total(), 0u);
  EXPECT_EQ(file_text(path).size(), 5 * cmd({"SET", "a", "0"}).size());
  std::filesystem::remove(path);
}

TEST(JournalFileTest, UnwritablePathIsAnError) {
  JournalConfig c;
  c.path = "/nonexistent-dir/journal";
  Journal j(c);
  std::size_t loaded = 0;
  EXPECT_NE(j.load(loaded), "");
}

}  // namespace
}  // namespace seawall::upstream
