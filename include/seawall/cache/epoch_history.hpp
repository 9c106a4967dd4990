#pragma once
// The L1's invalidation epoch (ReplyCache::begin_read) as it was a while ago, for reads whose
// reply may be older than the moment they were sent: a read served by a cluster replica
// (read_from: prefer_replica) returns what the replica has applied, which may miss writes the
// master acknowledged shortly before. Filled with a ticket from epoch_at(now - lag), such a
// reply is stored in the L1 only when none of its keys was written (invalidated) during `lag`
// before the read was sent: a replica that lags less than that never leaves the L1 a value
// older than one seawall saw acknowledged.
//
// Samples are taken when asked (note), at most one per `step`, in a ring of kSamples; a time
// older than every sample kept gives epoch 0, which refuses a fill of any key ever invalidated.
// Ownership: a value; one per worker thread. Thread safety: one thread.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace seawall::cache {

class EpochHistory {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kSamples = 16;

  explicit EpochHistory(Clock::duration step) : step_(step) {}

  // Remembers `epoch` as the epoch at `now`, unless a sample was taken less than `step` ago.
  void note(Clock::time_point now, std::uint64_t epoch);
  // The epoch of the newest sample taken at or before `at`; 0 when there is none.
  std::uint64_t epoch_at(Clock::time_point at) const;

 private:
  struct Sample {
    Clock::time_point at;
    std::uint64_t epoch = 0;
  };

  Clock::duration step_;
  std::array<Sample, kSamples> samples_{};
  std::size_t next_ = 0;   // where the next sample goes
  std::size_t count_ = 0;  // samples kept, at most kSamples
};

}  // namespace seawall::cache
