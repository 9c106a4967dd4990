#include "seawall/fault/fault_injector.hpp"

#include <algorithm>
#include <cmath>

#include "seawall/resp/replies.hpp"

namespace seawall::fault {

std::uint32_t FastRandom::draw() {
  state_ += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  // The top 32 bits scaled to the range: no modulo bias worth the name (< 1 in 4000).
  return static_cast<std::uint32_t>(((z >> 32) * kDrawRange) >> 32);
}

FaultInjector::FaultInjector(std::span<const FaultConfig> faults) {
  rules_.reserve(faults.size());
  for (const FaultConfig& config : faults) {
    Rule& rule = rules_.emplace_back();
    rule.fault.type = config.type;
    rule.fault.delay = config.delay;
    if (config.type == FaultType::Error) {
      if (config.message.empty()) {
        rule.fault.error_reply = resp::replies::kInjectedFault;
      } else {
        rule.fault.error_reply = "-" + config.message + "\r\n";
      }
    }
    for (const std::string& name : config.commands) {
      rule.commands.add(name);  // the loader checked every name against the table
    }
    rule.every_command = config.commands.empty();
    rule.every_upstream = config.upstream.empty();
    rule.upstream = config.upstream_index;
    const double scaled = std::round(config.percent * (RandomSource::kDrawRange / 100.0));
    rule.threshold = static_cast<std::uint32_t>(
        std::clamp(scaled, 0.0, static_cast<double>(RandomSource::kDrawRange)));
  }
}

const Fault* FaultInjector::pick(const command::CommandInfo* info,
                                 std::span<const std::string_view> args, std::size_t upstream,
                                 RandomSource& random) const {
  for (const Rule& rule : rules_) {
    if (!rule.every_upstream && rule.upstream != upstream) {
      continue;
    }
    if (!rule.every_command && (info == nullptr || rule.commands.match(*info, args) == nullptr)) {
      continue;
    }
    if (random.draw() < rule.threshold) {
      return &rule.fault;
    }
  }
  return nullptr;
}

}  // namespace seawall::fault
