#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader_test_support.hpp"
#include "seawall/config/loader.hpp"

namespace seawall::config {
namespace {

using test_support::load_with_upstream;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LoaderJournalTest, FsyncDefaultsToEverysec) {
  const LoadResult result = load_with_upstream("journal: {max_entries: 10}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->journal.fsync, JournalFsync::Everysec);
  EXPECT_EQ(result.config->journal.max_entries, 10u);
}

TEST(LoaderJournalTest, ReadsEveryFsyncMode) {
  const std::pair<const char*, JournalFsync> modes[] = {{"always", JournalFsync::Always},
                                                        {"everysec", JournalFsync::Everysec},
                                                        {"no", JournalFsync::No}};
  for (const auto& [name, mode] : modes) {
    const LoadResult result = load_with_upstream(
        std::string("journal:\n  path: /var/lib/seawall/journal\n  fsync: ") + name + "\n");
    ASSERT_THAT(result.errors, IsEmpty()) << name;
    EXPECT_EQ(result.config->journal.fsync, mode) << name;
    EXPECT_EQ(result.config->journal.path, "/var/lib/seawall/journal");
  }
}

TEST(LoaderJournalTest, ABadFsyncValueNamesTheKey) {
  EXPECT_THAT(load_with_upstream("journal:\n  max_bytes: 1mb\n  fsync: sometimes\n").errors,
              ElementsAre("test.yaml:3: journal.fsync: must be one of always, everysec or no, "
                          "got \"sometimes\""));
  // YAML 1.1 would read these as booleans; seawall wants the names exactly.
  EXPECT_THAT(load_with_upstream("journal: {fsync: yes}\n").errors,
              ElementsAre("test.yaml:1: journal.fsync: must be one of always, everysec or no, "
                          "got \"yes\""));
  EXPECT_THAT(load_with_upstream("journal: {fsync: [always]}\n").errors, ::testing::SizeIs(1));
}

}  // namespace
}  // namespace seawall::config
