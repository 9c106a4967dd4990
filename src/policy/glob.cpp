#include "seawall/policy/glob.hpp"

#include <cstddef>
#include <utility>

namespace seawall::policy {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

unsigned char byte_at(std::string_view s, std::size_t i) noexcept {
  return static_cast<unsigned char>(s[i]);
}

// The bracket expression starting at pattern[open] == '['. Sets `next` past its `]` (or to the
// end of the pattern when unterminated) and returns whether `c` is in the set.
bool match_class(std::string_view pattern, std::size_t open, unsigned char c,
                 std::size_t& next) noexcept {
  const std::size_t n = pattern.size();
  std::size_t i = open + 1;
  const bool negate = i < n && pattern[i] == '^';
  if (negate) {
    ++i;
  }
  bool found = false;
  while (i < n && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < n) {
      found = found || byte_at(pattern, i + 1) == c;
      i += 2;
    } else if (i + 2 < n && pattern[i + 1] == '-') {
      unsigned char lo = byte_at(pattern, i);
      unsigned char hi = byte_at(pattern, i + 2);
      if (lo > hi) {
        std::swap(lo, hi);
      }
      found = found || (c >= lo && c <= hi);
      i += 3;
    } else {
      found = found || byte_at(pattern, i) == c;
      ++i;
    }
  }
  next = i < n ? i + 1 : n;
  return found != negate;
}

// The single-byte token at pattern[p] (anything but `*`) against `c`.
bool match_token(std::string_view pattern, std::size_t p, unsigned char c,
                 std::size_t& next) noexcept {
  switch (pattern[p]) {
    case '?':
      next = p + 1;
      return true;
    case '[':
      return match_class(pattern, p, c, next);
    case '\\':
      if (p + 1 < pattern.size()) {
        next = p + 2;
        return byte_at(pattern, p + 1) == c;
      }
      next = p + 1;
      return c == '\\';
    default:
      next = p + 1;
      return byte_at(pattern, p) == c;
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  const std::size_t n = pattern.size();
  std::size_t p = 0;
  std::size_t t = 0;
  // Every token but `*` consumes exactly one byte, so on a mismatch it is enough to retry from the
  // most recent `*` with it swallowing one more byte; earlier stars never need revisiting.
  std::size_t star_p = kNone;  // pattern index just after the most recent run of stars
  std::size_t star_t = 0;      // text index that run is currently matched up to
  while (t < text.size()) {
    if (p < n && pattern[p] == '*') {
      while (p < n && pattern[p] == '*') {
        ++p;
      }
      if (p == n) {
        return true;
      }
      star_p = p;
      star_t = t;
      continue;
    }
    std::size_t next = p;
    if (p < n && match_token(pattern, p, byte_at(text, t), next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == kNone) {
      return false;
    }
    p = star_p;
    t = ++star_t;
  }
  while (p < n && pattern[p] == '*') {
    ++p;
  }
  return p == n;
}

bool glob_is_literal(std::string_view pattern) noexcept {
  return pattern.find_first_of("*?[\\") == std::string_view::npos;
}

}  // namespace seawall::policy
