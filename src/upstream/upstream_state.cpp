#include "seawall/upstream/upstream_state.hpp"

#include "seawall/resp/replies.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

std::string error_line(const std::string& name, std::string_view suffix) {
  std::string line(resp::replies::kUnavailablePrefix);
  line.append(name).append(suffix);
  return line;
}

}  // namespace

UpstreamState::UpstreamState(const UpstreamConfig& config, const JournalConfig& journal,
                             std::uint64_t seed)
    : name_(config.name),
      journal_([&] {
        // One journal file per upstream; none for a cluster shard's replica upstream, which only
        // carries reads (its shard's writes are journaled by the master's upstream).
        JournalConfig own = journal;
        if (config.shard_role == ShardRole::Replica) {
          own.path.clear();
        } else if (!own.path.empty()) {
          own.path += "." + config.name;
        }
        return own;
      }()),
      resolver_(
          std::make_shared<MasterResolver>(config.name, config.sentinel, config.connect_timeout)),
      seed_(seed),
      no_fallback_(error_line(name_, resp::replies::kNoFallbackSuffix)),
      write_rejected_(error_line(name_, resp::replies::kWriteRejectedSuffix)),
      cannot_ack_(error_line(name_, resp::replies::kCannotAcknowledgeSuffix)),
      journal_full_(error_line(name_, resp::replies::kJournalFullSuffix)),
      write_unknown_(error_line(name_, resp::replies::kWriteUnknownSuffix)) {
  reconfigure_breaker(config.breaker, Clock::now());
}

bool UpstreamState::reconfigure_breaker(const breaker::BreakerConfig& config,
                                        Clock::time_point now) {
  const std::lock_guard lock(breakers_mutex_);
  if (!breakers_.empty() && breakers_.back()->config() == config) {
    return false;
  }
  auto next = std::make_unique<breaker::CircuitBreaker>(
      config, seed_ + breakers_.size(),
      [this](breaker::State from, breaker::State to) { on_transition(from, to); });
  if (!breakers_.empty()) {
    // Before publishing: no caller has a permit from `next` yet. A transition the old breaker
    // makes after this copy (a permit of its own still in flight) is not carried over.
    next->adopt_state_of(*breakers_.back(), now);
  }
  breakers_.push_back(std::move(next));
  breaker_.store(breakers_.back().get(), std::memory_order_release);
  return true;
}

void UpstreamState::force_breaker_open() {
  const std::lock_guard lock(breakers_mutex_);
  breaker().force_open();
}

void UpstreamState::force_breaker_closed() {
  const std::lock_guard lock(breakers_mutex_);
  breaker().force_close();
}

void UpstreamState::reset_breaker() {
  const std::lock_guard lock(breakers_mutex_);
  breaker().reset();
}

breaker::BreakerCounters UpstreamState::breaker_counters() const {
  const std::lock_guard lock(breakers_mutex_);
  breaker::BreakerCounters sum;
  for (const auto& b : breakers_) {
    const breaker::BreakerCounters c = b->counters();
    sum.successes += c.successes;
    sum.failures += c.failures;
    sum.timeouts += c.timeouts;
    sum.slow_calls += c.slow_calls;
    sum.ignored += c.ignored;
    sum.rejected += c.rejected;
    sum.transitions += c.transitions;
    sum.opened += c.opened;
  }
  return sum;
}

namespace {

constexpr unsigned kTimeShift = 8;
constexpr unsigned kFromShift = 4;
constexpr std::uint64_t kStateMask = 0xf;

}  // namespace

std::optional<UpstreamState::Transition> UpstreamState::last_transition() const {
  const std::uint64_t word = last_transition_.load(std::memory_order_acquire);
  if (word == 0) {
    return std::nullopt;
  }
  Transition t;
  t.from = static_cast<breaker::State>((word >> kFromShift) & kStateMask);
  t.to = static_cast<breaker::State>(word & kStateMask);
  t.at = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(static_cast<std::int64_t>(word >> kTimeShift)));
  return t;
}

void UpstreamState::on_transition(breaker::State from, breaker::State to) {
  // Wall-clock time: it is shown to operators, never used to decide anything.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::uint64_t word = static_cast<std::uint64_t>(ms) << kTimeShift |
                             static_cast<std::uint64_t>(from) << kFromShift |
                             static_cast<std::uint64_t>(to);
  std::uint64_t seen = last_transition_.load(std::memory_order_relaxed);
  while ((seen >> kTimeShift) <= (word >> kTimeShift) &&
         !last_transition_.compare_exchange_weak(seen, word, std::memory_order_acq_rel)) {
  }
  util::logger("breaker")->warn("upstream={} breaker {} -> {}", name_, breaker::to_string(from),
                                breaker::to_string(to));
}

void note_scripts(std::span<const std::unique_ptr<UpstreamState>> upstreams,
                  const command::CommandInfo* info, std::span<const std::string_view> args) {
  for (const auto& state : upstreams) {
    state->scripts().note(info, args);
  }
}

}  // namespace seawall::upstream
