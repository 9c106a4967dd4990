#include "seawall/policy/policy_table.hpp"

#include <algorithm>
#include <utility>

#include "seawall/policy/glob.hpp"

namespace seawall::policy {

PolicyTable::PolicyTable() = default;

std::optional<std::string> tracking_prefix(std::string_view pattern) {
  if (pattern.empty() || pattern.back() != '*') {
    return std::nullopt;
  }
  const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
  if (!glob_is_literal(prefix)) {
    return std::nullopt;  // escapes included: rare in key patterns, and simpler refused
  }
  return std::string(prefix);
}

namespace {

// Redis refuses BCAST prefixes of which one starts another; the shorter one covers both.
std::vector<std::string> without_overlaps(std::vector<std::string> prefixes) {
  std::sort(prefixes.begin(), prefixes.end());
  prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
  std::vector<std::string> out;
  for (std::string& p : prefixes) {
    // Sorted: a prefix of p sorts before p, and the last kept one is the only candidate.
    if (!out.empty() && p.starts_with(out.back())) {
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

PolicyTable::PolicyTable(std::vector<PolicyRule> rules, Policy fallback)
    : fallback_(std::move(fallback)) {
  rules_.reserve(rules.size());
  std::vector<std::string> prefixes;
  if (fallback_.l1.near()) {
    prefixes.emplace_back();
  }
  for (PolicyRule& rule : rules) {
    if (rule.policy.l1.near()) {
      if (auto prefix = tracking_prefix(rule.pattern)) {
        prefixes.push_back(std::move(*prefix));
      }
    }
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
  near_prefixes_ = without_overlaps(std::move(prefixes));
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
