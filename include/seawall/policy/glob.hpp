#pragma once
// Redis-style glob matching, the syntax of KEYS and SCAN MATCH, for per-key policy patterns.
// Thread safety: pure functions.
#include <string_view>

namespace seawall::policy {

// `*` matches any run of bytes (also none), `?` any one byte, `[abc]` one of a, b, c, `[a-z]` one
// byte in the range, `[^...]` one byte not in the set, and `\x` the byte x itself (inside brackets
// too). Byte-wise and case-sensitive. As in Redis: a `[` without a closing `]` runs to the end of
// the pattern, `[]` matches nothing, a reversed range `[z-a]` means `[a-z]`, and a trailing `\`
// matches a backslash. Ranges compare bytes as unsigned (Redis compares signed chars, which only
// differs for a range that spans 0x7f and 0x80). Iterative, no recursion; worst case
// O(pattern * text).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// Whether `pattern` contains none of `* ? [ \`, i.e. matches only itself.
bool glob_is_literal(std::string_view pattern) noexcept;

}  // namespace seawall::policy
