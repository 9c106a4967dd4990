#pragma once
// Decides, per command sent to an upstream, whether a configured fault applies to it. Built from
// the faults of one config snapshot (a reload builds a new one); the decision is applied by
// upstream::Connection, where a real fault would show, so the breaker, the deadlines, the
// fallback chain and the metrics all see an injected fault as they see Redis failing.
//
// Faults are tried in their configured order; each one that matches the command and upstream
// draws once from the random source, and the first whose draw falls under its percentage
// applies. A command that matches no fault costs no draw, so it is never affected.
//
// Ownership: holds pointers into the static command table. Thread safety: immutable after
// construction, shared by every worker; the RandomSource passed in is the caller's (one per
// worker thread).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_set.hpp"
#include "seawall/fault/fault_config.hpp"

namespace seawall::fault {

// Draws for the percentages. Tests script the draws; workers use FastRandom.
class RandomSource {
 public:
  // Draws are uniform in [0, kDrawRange): a percentage p applies when draw < p * 10000.
  static constexpr std::uint32_t kDrawRange = 1'000'000;

  virtual ~RandomSource() = default;
  virtual std::uint32_t draw() = 0;
};

// splitmix64, mapped to [0, kDrawRange) by multiply-shift: cheap, and good enough for shares of
// traffic (not for anything secret).
class FastRandom final : public RandomSource {
 public:
  explicit FastRandom(std::uint64_t seed) : state_(seed) {}

  // RandomSource
  std::uint32_t draw() override;

 private:
  std::uint64_t state_;
};

// What happens to one command. `error_reply` is a complete RESP error line (Error only).
struct Fault {
  FaultType type = FaultType::Error;
  std::chrono::milliseconds delay{0};
  std::string error_reply;
};

class FaultInjector {
 public:
  FaultInjector() = default;
  explicit FaultInjector(std::span<const FaultConfig> faults);

  bool empty() const { return rules_.empty(); }

  // The fault for the command `info` (the top-level table entry of args[0]; nullptr for an
  // unknown command, which only a fault without `commands` matches) sent to upstream `upstream`,
  // or nullptr when none applies.
  const Fault* pick(const command::CommandInfo* info, std::span<const std::string_view> args,
                    std::size_t upstream, RandomSource& random) const;

 private:
  struct Rule {
    Fault fault;
    command::CommandSet commands;
    bool every_command = true;
    bool every_upstream = true;
    std::size_t upstream = 0;
    std::uint32_t threshold = 0;  // draws below it apply
  };

  std::vector<Rule> rules_;
};

}  // namespace seawall::fault
