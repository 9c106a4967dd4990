#pragma once
// Duration ("250ms", "1.5s") and size ("64kb", "512MB") strings of the config file: parsing with a
// reason on failure, so the loader can say what is wrong, and printing for error messages.
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>

#include "seawall/config/config.hpp"

namespace seawall::config::detail {

enum class UnitError {
  None,
  Empty,        // ""
  Negative,     // "-1s"
  Malformed,    // not digits[.digits]unit
  MissingUnit,  // "100" where a duration needs a unit
  UnknownUnit,  // "5d", "3xb"
  TooLarge,     // does not fit the result type
  TooPrecise,   // "1.5ms", "0.3b": not a whole number of the base unit
};

enum class UnitKind { Duration, Size };

// Why the text was rejected, as a phrase for an error message ("must not be negative").
std::string_view describe(UnitError error, UnitKind kind);

struct ParsedDuration {
  Millis value{0};
  UnitError error = UnitError::None;
};
// digits[.digits] followed by ms, s, m or h (case-insensitive). The result is a whole number of
// milliseconds that fits Millis.
ParsedDuration parse_duration_detailed(std::string_view text);

struct ParsedSize {
  std::uint64_t value = 0;
  UnitError error = UnitError::None;
};
// digits[.digits] followed by nothing or b (bytes), k/kb/kib, m/mb/mib, g/gb/gib (1024 powers),
// case-insensitive. The result is a whole number of bytes that fits 64 bits.
ParsedSize parse_size_detailed(std::string_view text);

// Largest unit that divides the value exactly: 1500ms -> "1500ms", 120000ms -> "2m".
std::string format_duration(Millis value);
// Largest 1024 power that divides the value exactly: 65536 -> "64kb", 100 -> "100b".
std::string format_size(std::uint64_t value);

}  // namespace seawall::config::detail
