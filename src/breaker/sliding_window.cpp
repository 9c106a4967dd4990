#include "seawall/breaker/sliding_window.hpp"

#include <algorithm>

namespace seawall::breaker {
namespace {

// Count window. Each slot holds the bits of one call; totals_ holds the sums of all slots as three
// 21-bit fields (calls, failures, slow), each offset by kBias. A call exchanges its slot and adds
// (new - old) to totals_ with one fetch_add, so totals_ always equals the sum of the slots once the
// in-flight calls finish. In between, a field can dip below its true value by one per racing
// thread; the bias keeps such a dip from borrowing from the next field.
constexpr std::uint8_t kPresentBit = 1;
constexpr std::uint8_t kFailureBit = 2;
constexpr std::uint8_t kSlowBit = 4;
constexpr unsigned kFieldBits = 21;
constexpr std::uint64_t kFieldMask = (std::uint64_t{1} << kFieldBits) - 1;
constexpr std::uint64_t kBias = std::uint64_t{1} << 19;
constexpr unsigned kCallsShift = 2 * kFieldBits;
constexpr unsigned kFailuresShift = kFieldBits;
constexpr unsigned kSlowShift = 0;
constexpr std::uint64_t kBiasedZero =
    (kBias << kCallsShift) | (kBias << kFailuresShift) | (kBias << kSlowShift);

std::uint64_t packed_slot(std::uint8_t bits) {
  return (std::uint64_t{(bits & kPresentBit) != 0} << kCallsShift) |
         (std::uint64_t{(bits & kFailureBit) != 0} << kFailuresShift) |
         (std::uint64_t{(bits & kSlowBit) != 0} << kSlowShift);
}

std::uint32_t unbias(std::uint64_t word, unsigned shift, std::uint32_t limit) {
  const auto biased = static_cast<std::int64_t>((word >> shift) & kFieldMask);
  const std::int64_t value = biased - static_cast<std::int64_t>(kBias);
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(value, 0, limit));
}

// Time window. One word per bucket: the low 22 bits of the bucket's epoch (now / bucket width) and
// three 14-bit counters. Replacing a stale bucket and counting into it is one CAS, so a bucket
// never mixes two epochs. latest_epoch_ holds the newest epoch in full: the thread that advances it
// empties the buckets the window moves onto, so every non-empty bucket belongs to the last
// `buckets` epochs and a 22-bit tag is never mistaken for another epoch's.
constexpr unsigned kTagBits = 22;
constexpr std::uint64_t kTagMask = (std::uint64_t{1} << kTagBits) - 1;
constexpr unsigned kTagShift = 42;
constexpr std::int64_t kTagRepeatGap = std::int64_t{1} << (kTagBits - 1);
constexpr unsigned kCountBits = 14;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
constexpr unsigned kBucketCallsShift = 28;
constexpr unsigned kBucketFailuresShift = 14;
constexpr unsigned kBucketSlowShift = 0;

std::uint64_t bucket_tag(std::uint64_t word) { return word >> kTagShift; }
std::uint64_t bucket_field(std::uint64_t word, unsigned shift) {
  return (word >> shift) & kCountMask;
}

std::uint64_t bucket_delta(CallSample sample) {
  return (std::uint64_t{1} << kBucketCallsShift) |
         (std::uint64_t{sample.failure} << kBucketFailuresShift) |
         (std::uint64_t{sample.slow} << kBucketSlowShift);
}

std::uint64_t halve_bucket(std::uint64_t word) {
  const std::uint64_t tag = bucket_tag(word);
  return (tag << kTagShift) | ((bucket_field(word, kBucketCallsShift) >> 1) << kBucketCallsShift) |
         ((bucket_field(word, kBucketFailuresShift) >> 1) << kBucketFailuresShift) |
         ((bucket_field(word, kBucketSlowShift) >> 1) << kBucketSlowShift);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) {
    --q;
  }
  return q;
}

}  // namespace

SlidingWindow::SlidingWindow(const BreakerConfig& config)
    : kind_(config.window_kind), size_(0), bucket_ns_(1) {
  if (kind_ == WindowKind::Count) {
    size_ = std::clamp<std::uint32_t>(config.window_size, 1, kMaxWindowSize);
    slots_ = std::make_unique<std::atomic<std::uint8_t>[]>(size_);
    totals_.store(kBiasedZero, std::memory_order_relaxed);
  } else {
    size_ = std::clamp<std::uint32_t>(config.window_buckets, 1, kMaxBuckets);
    const auto total_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config.window_duration).count();
    bucket_ns_ = std::max<std::int64_t>(1, total_ns / size_);
    buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(size_);
  }
  // make_unique value-initialises the atomics, so every slot and bucket starts at zero.
}

SlidingWindow::~SlidingWindow() = default;

WindowTotals SlidingWindow::add(CallSample sample, TimePoint now) noexcept {
  return kind_ == WindowKind::Count ? add_count(sample) : add_time(sample, now);
}

WindowTotals SlidingWindow::totals(TimePoint now) const noexcept {
  return kind_ == WindowKind::Count ? count_totals() : time_totals(now);
}

void SlidingWindow::clear() noexcept {
  if (kind_ == WindowKind::Count) {
    for (std::uint32_t i = 0; i < size_; ++i) {
      const std::uint8_t old = slots_[i].exchange(0, std::memory_order_relaxed);
      totals_.fetch_sub(packed_slot(old), std::memory_order_relaxed);
    }
  } else {
    for (std::uint32_t i = 0; i < size_; ++i) {
      buckets_[i].store(0, std::memory_order_relaxed);
    }
  }
}

WindowTotals SlidingWindow::add_count(CallSample sample) noexcept {
  const auto bits = static_cast<std::uint8_t>(kPresentBit | (sample.failure ? kFailureBit : 0) |
                                              (sample.slow ? kSlowBit : 0));
  const std::uint64_t seq = head_.fetch_add(1, std::memory_order_relaxed);
  const std::uint8_t old = slots_[seq % size_].exchange(bits, std::memory_order_relaxed);
  // Unsigned wrap-around makes (new - old) a valid signed delta for every field at once.
  const std::uint64_t delta = packed_slot(bits) - packed_slot(old);
  // In steady state a call replaces one of the same kind: nothing to add, and a plain load is
  // much cheaper than a locked read-modify-write on this per-request path.
  const std::uint64_t word = delta == 0
                                 ? totals_.load(std::memory_order_relaxed)
                                 : totals_.fetch_add(delta, std::memory_order_relaxed) + delta;
  WindowTotals totals;
  totals.calls = unbias(word, kCallsShift, size_);
  totals.failures = std::min(unbias(word, kFailuresShift, size_), totals.calls);
  totals.slow = std::min(unbias(word, kSlowShift, size_), totals.calls);
  return totals;
}

WindowTotals SlidingWindow::count_totals() const noexcept {
  const std::uint64_t word = totals_.load(std::memory_order_relaxed);
  WindowTotals totals;
  totals.calls = unbias(word, kCallsShift, size_);
  totals.failures = std::min(unbias(word, kFailuresShift, size_), totals.calls);
  totals.slow = std::min(unbias(word, kSlowShift, size_), totals.calls);
  return totals;
}

std::int64_t SlidingWindow::epoch_of(TimePoint now) const noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
  return floor_div(ns.count(), bucket_ns_);
}

std::size_t SlidingWindow::index_of(std::int64_t epoch) const noexcept {
  const std::int64_t buckets = size_;
  return static_cast<std::size_t>(((epoch % buckets) + buckets) % buckets);
}

void SlidingWindow::advance_to(std::int64_t epoch) noexcept {
  std::int64_t latest = latest_epoch_.load(std::memory_order_acquire);
  while (latest < epoch) {
    if (!latest_epoch_.compare_exchange_weak(latest, epoch, std::memory_order_acq_rel)) {
      continue;
    }
    // This thread moved the window from `latest` to `epoch`: empty the buckets of the epochs it
    // moved onto, which can only hold calls from before the window.
    const std::int64_t first =
        latest == kNoEpoch ? epoch - size_ + 1 : std::max(latest + 1, epoch - size_ + 1);
    // After a gap this long a bucket tagged like epoch e may hold calls from 2^22 epochs ago, so
    // it is emptied even though a call racing this advance may already have counted into it.
    const bool tags_may_repeat = latest == kNoEpoch || epoch - latest >= kTagRepeatGap;
    for (std::int64_t e = first; e <= epoch; ++e) {
      std::atomic<std::uint64_t>& bucket = buckets_[index_of(e)];
      const std::uint64_t tag = static_cast<std::uint64_t>(e) & kTagMask;
      std::uint64_t word = bucket.load(std::memory_order_acquire);
      if (word == 0 || (!tags_may_repeat && bucket_tag(word) == tag)) {
        continue;  // already empty, or already counting epoch e
      }
      if (latest_epoch_.load(std::memory_order_acquire) != epoch) {
        return;  // a later advance owns the buckets now; do not empty its fresh ones
      }
      bucket.compare_exchange_strong(word, 0, std::memory_order_acq_rel);
    }
    return;
  }
}

WindowTotals SlidingWindow::add_time(CallSample sample, TimePoint now) noexcept {
  const std::int64_t epoch = epoch_of(now);
  advance_to(epoch);
  const auto tag = static_cast<std::uint64_t>(epoch) & kTagMask;
  std::atomic<std::uint64_t>& bucket = buckets_[index_of(epoch)];
  const std::uint64_t delta = bucket_delta(sample);
  std::uint64_t word = bucket.load(std::memory_order_acquire);
  for (;;) {
    std::uint64_t next = 0;
    if (bucket_tag(word) == tag && word != 0) {
      const std::uint64_t base =
          bucket_field(word, kBucketCallsShift) >= kMaxBucketCalls ? halve_bucket(word) : word;
      next = base + delta;
    } else {
      // The bucket holds another epoch. If the window has already moved past this (late) call,
      // that epoch is the newer one and the call is dropped; otherwise the bucket is stale.
      if (epoch <= latest_epoch_.load(std::memory_order_acquire) - size_) {
        break;
      }
      next = (tag << kTagShift) | delta;
    }
    if (bucket.compare_exchange_weak(word, next, std::memory_order_acq_rel)) {
      break;
    }
  }
  return time_totals(now);
}

WindowTotals SlidingWindow::time_totals(TimePoint now) const noexcept {
  const std::int64_t epoch = epoch_of(now);
  const std::int64_t latest = latest_epoch_.load(std::memory_order_acquire);
  if (latest == kNoEpoch || epoch - latest >= size_) {
    return WindowTotals{};  // nothing recorded yet, or nothing for a whole window
  }
  const auto tag = static_cast<std::uint64_t>(epoch) & kTagMask;
  std::uint64_t calls = 0;
  std::uint64_t failures = 0;
  std::uint64_t slow = 0;
  for (std::uint32_t i = 0; i < size_; ++i) {
    const std::uint64_t word = buckets_[i].load(std::memory_order_relaxed);
    const std::uint64_t age = (tag - bucket_tag(word)) & kTagMask;
    if (age < size_) {
      calls += bucket_field(word, kBucketCallsShift);
      failures += bucket_field(word, kBucketFailuresShift);
      slow += bucket_field(word, kBucketSlowShift);
    }
  }
  WindowTotals totals;
  totals.calls = static_cast<std::uint32_t>(calls);
  totals.failures = static_cast<std::uint32_t>(failures);
  totals.slow = static_cast<std::uint32_t>(slow);
  return totals;
}

}  // namespace seawall::breaker
