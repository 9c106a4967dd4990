#include "seawall/cache/epoch_history.hpp"

namespace seawall::cache {

void EpochHistory::note(Clock::time_point now, std::uint64_t epoch) {
  if (count_ > 0) {
    const Sample& last = samples_[(next_ + kSamples - 1) % kSamples];
    if (now - last.at < step_) {
      return;
    }
  }
  samples_[next_] = Sample{now, epoch};
  next_ = (next_ + 1) % kSamples;
  count_ = count_ < kSamples ? count_ + 1 : kSamples;
}

std::uint64_t EpochHistory::epoch_at(Clock::time_point at) const {
  // Newest first: samples are taken in time order.
  for (std::size_t i = 1; i <= count_; ++i) {
    const Sample& sample = samples_[(next_ + kSamples - i) % kSamples];
    if (sample.at <= at) {
      return sample.epoch;
    }
  }
  return 0;
}

}  // namespace seawall::cache
