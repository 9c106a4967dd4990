#pragma once
// The split/merge handler's pure steps (Envoy's MGET/MSET/sum-of-integers splitters): a command
// whose keys live on several upstreams is cut into one part per upstream, in the order the
// upstreams first appear among its keys, and the parts' replies are merged back into the reply
// Redis would have given (command_rules.hpp's Merge says how). No I/O: the session submits the
// parts and feeds their replies.
// Thread safety: pure functions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/resp3.hpp"

namespace seawall::proxy {

// A merge holds at most this many parts (upstreams, or a cluster's slots): as many as a token's
// part number (split_forward.hpp, 8 bits) and key_part's entries can tell apart.
inline constexpr std::size_t kMaxParts = 256;

// Groups a command's keys by upstream: `key_part[i]` is the part of the i-th key, and
// `part_upstream[p]` the upstream of part p. `route(i)` is the upstream of the i-th key. Returns
// the number of parts, or nothing when the keys span more than kMaxParts upstreams.
template <class Route>
std::optional<std::size_t> group_by_upstream(std::size_t keys, Route&& route,
                                             std::vector<std::uint8_t>& key_part,
                                             std::array<std::size_t, kMaxParts>& part_upstream) {
  std::size_t parts = 0;
  key_part.clear();
  for (std::size_t i = 0; i < keys; ++i) {
    const std::size_t up = route(i);
    std::size_t p = 0;
    while (p < parts && part_upstream[p] != up) {
      ++p;
    }
    if (p == parts) {
      if (parts == part_upstream.size()) {
        return std::nullopt;
      }
      part_upstream[parts++] = up;
    }
    key_part.push_back(static_cast<std::uint8_t>(p));
  }
  return parts;
}

// Part `part`'s request: the command's name, then each of its keys with the `step - 1`
// arguments after it (MSET: the value), in the request's order. `keys`: the key arguments'
// indexes into `args`.
void part_request(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                  std::span<const std::uint8_t> key_part, std::size_t step, std::size_t part,
                  std::vector<std::string_view>& out);

// Appends the merged reply of parts that all succeeded: the sum of their integers (SumIntegers),
// +OK (AllOk), or each key's element of its part's array put back in the request's order (Mget;
// a missing element answers nil in `protocol`).
void merge_parts(command::Merge merge, std::span<const std::string> parts,
                 std::span<const std::uint8_t> key_part, resp::Protocol protocol, std::string& out);

// Splits a RESP array reply into its elements' bytes. False if it is not a complete array.
bool split_reply_array(std::string_view reply, std::vector<std::string_view>& elements);

}  // namespace seawall::proxy
