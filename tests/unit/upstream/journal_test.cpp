#include "seawall/upstream/journal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace seawall::upstream {
namespace {

const std::string kSet = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
const std::string kDel = "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";

TEST(JournalTest, KeepsOrderAndPops) {
  Journal j(config::JournalConfig{});
  EXPECT_TRUE(j.empty());
  ASSERT_EQ(j.append(kSet), Journal::Append::Ok);
  ASSERT_EQ(j.append(kDel), Journal::Append::Ok);
  EXPECT_FALSE(j.empty());
  EXPECT_EQ(j.front(10), (std::vector<std::string>{kSet, kDel}));
  j.pop(1);
  EXPECT_EQ(j.front(10), (std::vector<std::string>{kDel}));
  j.pop(1);
  EXPECT_TRUE(j.empty());
  EXPECT_EQ(j.replayed_total(), 2u);
}

TEST(JournalTest, RefusesWhenFullByEntries) {
  config::JournalConfig c;
  c.max_entries = 2;
  Journal j(c);
  EXPECT_EQ(j.append(kSet), Journal::Append::Ok);
  EXPECT_EQ(j.append(kSet), Journal::Append::Ok);
  EXPECT_EQ(j.append(kSet), Journal::Append::Full);
  EXPECT_EQ(j.entries(), 2u);
  EXPECT_EQ(j.rejected_total(), 1u);
}

TEST(JournalTest, RefusesWhenFullByBytes) {
  config::JournalConfig c;
  c.max_bytes = kSet.size() + 1;
  Journal j(c);
  EXPECT_EQ(j.append(kSet), Journal::Append::Ok);
  EXPECT_EQ(j.append(kSet), Journal::Append::Full);
  EXPECT_EQ(j.bytes(), kSet.size());
}

TEST(JournalTest, SurvivesARestartAndTruncatesWhenDrained) {
  const std::string path = ::testing::TempDir() + "/journal_test_" + std::to_string(::getpid());
  std::filesystem::remove(path);
  config::JournalConfig c;
  c.path = path;
  {
    Journal j(c);
    std::size_t loaded = 99;
    ASSERT_EQ(j.load(loaded), "");
    EXPECT_EQ(loaded, 0u);
    ASSERT_EQ(j.append(kSet), Journal::Append::Ok);
    ASSERT_EQ(j.append(kDel), Journal::Append::Ok);
  }
  // A torn entry at the end (crash mid-append) is ignored.
  {
    std::ofstream torn(path, std::ios::app | std::ios::binary);
    torn << "*2\r\n$3\r\nDE";
  }
  {
    Journal j(c);
    std::size_t loaded = 0;
    ASSERT_EQ(j.load(loaded), "");
    EXPECT_EQ(loaded, 2u);
    EXPECT_EQ(j.front(10), (std::vector<std::string>{kSet, kDel}));
    j.pop(2);
    EXPECT_TRUE(j.empty());
  }
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
  std::filesystem::remove(path);
}

TEST(JournalTest, UnwritablePathIsAnError) {
  config::JournalConfig c;
  c.path = "/nonexistent-dir/journal";
  Journal j(c);
  std::size_t loaded = 0;
  EXPECT_NE(j.load(loaded), "");
}

}  // namespace
}  // namespace seawall::upstream
