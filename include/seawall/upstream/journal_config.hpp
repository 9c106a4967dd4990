#pragma once
// Settings of the journal of writes accepted while an upstream is unavailable (journal and
// invalidate modes): its bounds, its file and how often that file is flushed.
// Thread safety: value types; immutable once loaded, share as const freely.
#include <cstdint>
#include <string>

namespace seawall::upstream {

// When the journal file is flushed to disk, as Redis's appendfsync: Always before a write is
// acknowledged (survives a machine crash), Everysec at most once a second (a machine crash may
// lose the last second; a seawall crash loses nothing), No when the OS decides.
enum class JournalFsync { Always, Everysec, No };

struct JournalConfig {
  std::uint64_t max_entries = 100000;             // live (replayable) entries, after compaction
  std::uint64_t max_bytes = 64ull * 1024 * 1024;  // bytes of the live entries
  std::string path;  // when set, the journal is also appended to this file and survives restarts
  JournalFsync fsync = JournalFsync::Everysec;

  bool operator==(const JournalConfig&) const = default;
};

}  // namespace seawall::upstream
