#include "config/units.hpp"

#include <array>
#include <cctype>
#include <limits>

#include "seawall/util/ascii.hpp"

namespace seawall::config {
namespace detail {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
// Millis counts in a signed 64-bit integer.
constexpr std::uint64_t kMaxMillis = static_cast<std::uint64_t>(Millis::max().count());
// More fractional digits than this can never be a whole number of milliseconds or bytes for the
// units we accept, and keeping it small keeps `fraction * factor` inside 64 bits.
constexpr std::size_t kMaxFractionDigits = 9;

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::uint64_t kKiB = 1024;
constexpr std::array kDurationUnits{
    Unit{"ms", 1},
    Unit{"s", 1000},
    Unit{"m", 60 * 1000},
    Unit{"h", 60 * 60 * 1000},
};
constexpr std::array kSizeUnits{
    Unit{"", 1},
    Unit{"b", 1},
    Unit{"k", kKiB},
    Unit{"kb", kKiB},
    Unit{"kib", kKiB},
    Unit{"m", kKiB* kKiB},
    Unit{"mb", kKiB* kKiB},
    Unit{"mib", kKiB* kKiB},
    Unit{"g", kKiB* kKiB* kKiB},
    Unit{"gb", kKiB* kKiB* kKiB},
    Unit{"gib", kKiB* kKiB* kKiB},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
using util::iequals;

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

struct Scaled {
  std::uint64_t value = 0;
  UnitError error = UnitError::None;
};

// "digits[.digits]" times `factor`, exactly, at most `limit`.
Scaled scale_decimal(std::string_view number, std::uint64_t factor, std::uint64_t limit) {
  std::string_view whole = number;
  std::string_view fraction;
  if (auto dot = number.find('.'); dot != std::string_view::npos) {
    whole = number.substr(0, dot);
    fraction = number.substr(dot + 1);
    if (fraction.empty()) {
      return {0, UnitError::Malformed};
    }
  }
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction)) {
    return {0, UnitError::Malformed};
  }

  std::uint64_t integer = 0;
  for (char c : whole) {
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (integer > (kMaxU64 - digit) / 10) {
      return {0, UnitError::TooLarge};
    }
    integer = integer * 10 + digit;
  }
  if (integer != 0 && factor > kMaxU64 / integer) {
    return {0, UnitError::TooLarge};
  }
  std::uint64_t result = integer * factor;

  while (!fraction.empty() && fraction.back() == '0') {
    fraction.remove_suffix(1);
  }
  if (fraction.size() > kMaxFractionDigits) {
    return {0, UnitError::TooPrecise};
  }
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
  for (char c : fraction) {
    numerator = numerator * 10 + static_cast<std::uint64_t>(c - '0');
    denominator *= 10;
  }
  // numerator < 10^9 and factor < 2^31, so the product stays below 2^63.
  const std::uint64_t scaled_fraction = numerator * factor;
  if (scaled_fraction % denominator != 0) {
    return {0, UnitError::TooPrecise};
  }
  const std::uint64_t extra = scaled_fraction / denominator;
  if (result > kMaxU64 - extra || result + extra > limit) {
    return {0, UnitError::TooLarge};
  }
  return {result + extra, UnitError::None};
}

template <std::size_t N>
Scaled parse_with_units(std::string_view text, const std::array<Unit, N>& units,
                        std::uint64_t limit, bool unit_required) {
  if (text.empty()) {
    return {0, UnitError::Empty};
  }
  if (text.front() == '-') {
    return {0, UnitError::Negative};
  }
  std::size_t split = 0;
  while (split < text.size() && (is_digit(text[split]) || text[split] == '.')) {
    ++split;
  }
  const std::string_view number = text.substr(0, split);
  const std::string_view unit = text.substr(split);
  if (number.empty()) {
    return {0, UnitError::Malformed};
  }
  for (char c : unit) {
    if (!is_alpha(c)) {
      return {0, UnitError::Malformed};
    }
  }
  if (unit.empty() && unit_required) {
    // Report a malformed number before a missing unit: "1..2" is not fixed by adding "s".
    Scaled number_only = scale_decimal(number, 1, kMaxU64);
    if (number_only.error == UnitError::Malformed) {
      return number_only;
    }
    return {0, UnitError::MissingUnit};
  }
  for (const Unit& candidate : units) {
    if (iequals(unit, candidate.name)) {
      return scale_decimal(number, candidate.factor, limit);
    }
  }
  return {0, UnitError::UnknownUnit};
}

// Largest unit whose factor divides `value`; units are ordered by increasing factor.
template <std::size_t N>
std::string format_with_units(std::uint64_t value, const std::array<Unit, N>& units) {
  const Unit* best = &units.front();
  for (const Unit& unit : units) {
    if (!unit.name.empty() && value % unit.factor == 0 && unit.factor >= best->factor) {
      best = &unit;
    }
  }
  return std::to_string(value / best->factor) + std::string(best->name);
}

}  // namespace

std::string_view describe(UnitError error, UnitKind kind) {
  const bool duration = kind == UnitKind::Duration;
  switch (error) {
    case UnitError::None:
      return "ok";
    case UnitError::Empty:
      return "must not be empty";
    case UnitError::Negative:
      return "must not be negative";
    case UnitError::Malformed:
      return duration
                 ? "expected a number followed by ms, s, m or h, e.g. 250ms"
                 : "expected a number of bytes, optionally followed by kb, mb or gb, e.g. 64kb";
    case UnitError::MissingUnit:
      return "missing unit: write ms, s, m or h after the number, e.g. 0s or 250ms";
    case UnitError::UnknownUnit:
      return duration ? "unknown unit (use ms, s, m or h)" : "unknown unit (use b, kb, mb or gb)";
    case UnitError::TooLarge:
      return "too large";
    case UnitError::TooPrecise:
      return duration ? "not a whole number of milliseconds" : "not a whole number of bytes";
  }
  return "invalid";
}

ParsedDuration parse_duration_detailed(std::string_view text) {
  Scaled scaled = parse_with_units(text, kDurationUnits, kMaxMillis, /*unit_required=*/true);
  if (scaled.error != UnitError::None) {
    return {Millis{0}, scaled.error};
  }
  return {Millis{static_cast<Millis::rep>(scaled.value)}, UnitError::None};
}

ParsedSize parse_size_detailed(std::string_view text) {
  Scaled scaled = parse_with_units(text, kSizeUnits, kMaxU64, /*unit_required=*/false);
  return {scaled.value, scaled.error};
}

std::string format_duration(Millis value) {
  if (value.count() <= 0) {
    return value.count() == 0 ? "0s" : std::to_string(value.count()) + "ms";
  }
  return format_with_units(static_cast<std::uint64_t>(value.count()), kDurationUnits);
}

std::string format_size(std::uint64_t value) {
  constexpr std::array kPrintUnits{
      Unit{"b", 1},
      Unit{"kb", kKiB},
      Unit{"mb", kKiB * kKiB},
      Unit{"gb", kKiB * kKiB * kKiB},
  };
  if (value == 0) {
    return "0b";
  }
  return format_with_units(value, kPrintUnits);
}

}  // namespace detail

}  // namespace seawall::config
