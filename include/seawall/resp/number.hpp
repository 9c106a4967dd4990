#pragma once
// Strict decimal parsing for RESP length and integer lines (and integers in arguments that
// Redis parses the same way).
#include <cstdint>
#include <optional>
#include <string_view>

namespace seawall::resp {

// Parses an optional '-' and 1..19 digits; rejects empty input, '+', spaces and overflow.
inline std::optional<std::int64_t> parse_int64(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  bool negative = false;
  std::size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == s.size() || s.size() - i > 19) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (value > kMax + (negative ? 1u : 0u)) {
    return std::nullopt;
  }
  if (negative) {
    return value == kMax + 1 ? INT64_MIN : -static_cast<std::int64_t>(value);
  }
  return static_cast<std::int64_t>(value);
}

}  // namespace seawall::resp
