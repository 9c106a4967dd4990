#pragma once
// Writes accepted while an upstream is unavailable (writes_when_open: journal or invalidate),
// kept in arrival order and replayed to Redis before traffic resumes, so a value written during
// the outage is never overwritten by an older one afterwards.
//
// Bounded by entries and bytes: when full, append() refuses and the caller rejects the write
// (never dropped silently). With a path, every entry is also appended to a file (raw RESP
// commands, self-delimiting) and reloaded at startup, so a restart does not lose it; the file is
// truncated once the journal has been replayed completely. Replay is at-least-once: a restart
// during a replay replays the whole file again, which is why only idempotent writes are accepted.
//
// Thread safety: all members are safe from any thread (a mutex; only used during outages);
// empty() is a lock-free read for the hot path.
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/config/config.hpp"

namespace seawall::upstream {

class Journal {
 public:
  enum class Append : std::uint8_t { Ok, Full, IoError };

  explicit Journal(const config::JournalConfig& config);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Loads entries left in the file by a previous run. Returns how many, or an error message.
  std::string load(std::size_t& loaded);

  Append append(std::string_view raw_command);
  bool empty() const { return entries_count_.load(std::memory_order_acquire) == 0; }
  std::size_t entries() const { return entries_count_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  // Copies up to `max` entries from the front, for replay.
  std::vector<std::string> front(std::size_t max) const;
  // Drops `n` entries from the front after they were replayed.
  void pop(std::size_t n);

  std::uint64_t appended_total() const { return appended_.load(std::memory_order_relaxed); }
  std::uint64_t replayed_total() const { return replayed_.load(std::memory_order_relaxed); }
  std::uint64_t rejected_total() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  const config::JournalConfig config_;
  mutable std::mutex mutex_;
  std::deque<std::string> queue_;
  int fd_ = -1;
  std::atomic<std::size_t> entries_count_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace seawall::upstream
