#pragma once
// ASCII helpers for protocol tokens (command names, subcommands, options): Redis compares them
// case-insensitively in ASCII only, so no locale is involved.
// Thread safety: pure functions.
#include <algorithm>
#include <string_view>

namespace seawall::util {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace seawall::util
