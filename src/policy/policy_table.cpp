#include "seawall/policy/policy_table.hpp"

#include <utility>

#include "seawall/policy/glob.hpp"

namespace seawall::policy {

PolicyTable::PolicyTable() = default;

PolicyTable::PolicyTable(std::vector<PolicyRule> rules, Policy fallback)
    : fallback_(std::move(fallback)) {
  rules_.reserve(rules.size());
  for (PolicyRule& rule : rules) {
    rule.policy.name = rule.pattern;
    std::string_view pattern = rule.pattern;
    const std::size_t first_star = pattern.find_first_not_of('*');
    if (first_star == std::string_view::npos && !pattern.empty()) {
      rules_.push_back({MatchKind::Any, {}, std::move(rule.policy)});
      continue;
    }
    if (glob_is_literal(pattern)) {
      rules_.push_back({MatchKind::Exact, std::move(rule.pattern), std::move(rule.policy)});
      continue;
    }
    const std::size_t last_literal = pattern.find_last_not_of('*');
    if (glob_is_literal(pattern.substr(0, last_literal + 1))) {
      rules_.push_back({MatchKind::Prefix, std::string(pattern.substr(0, last_literal + 1)),
                        std::move(rule.policy)});
      continue;
    }
    rules_.push_back({MatchKind::Glob, std::move(rule.pattern), std::move(rule.policy)});
  }
}

const Policy& PolicyTable::match(std::string_view key) const noexcept {
  for (const CompiledRule& rule : rules_) {
    bool matched = false;
    switch (rule.kind) {
      case MatchKind::Exact:
        matched = key == rule.pattern;
        break;
      case MatchKind::Prefix:
        matched = key.starts_with(rule.pattern);
        break;
      case MatchKind::Any:
        matched = true;
        break;
      case MatchKind::Glob:
        matched = glob_match(rule.pattern, key);
        break;
    }
    if (matched) {
      return rule.policy;
    }
  }
  return fallback_;
}

}  // namespace seawall::policy
