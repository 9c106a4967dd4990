#pragma once
// The split/merge handler's pure steps (Envoy's MGET/MSET/sum-of-integers splitters): a command
// whose keys live on several upstreams is cut into one part per upstream, in the order the
// upstreams first appear among its keys, and the parts' replies are merged back into the reply
// Redis would have given (command_rules.hpp's Merge says how). No I/O: the session submits the
// parts and feeds their replies.
// Thread safety: pure functions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/resp3.hpp"

namespace seawall::proxy {

// A merge holds at most this many parts: one per slot of a cluster (Redis refuses two slots in
// one command), so an MGET of keys over every slot still splits. Part numbers fit key_part's
// 16 bits and a token's part bits (split_forward.hpp).
inline constexpr std::size_t kMaxParts = 16384;

// Groups a command's keys by upstream: `key_part[i]` is the part of the i-th key, and
// `part_upstream[p]` the upstream of part p, in order of first appearance. `route(i)` is the
// upstream of the i-th key. Returns the number of parts, or nothing when the keys span more than
// kMaxParts upstreams.
template <class Route>
std::optional<std::size_t> group_by_upstream(std::size_t keys, Route&& route,
                                             std::vector<std::uint16_t>& key_part,
                                             std::vector<std::size_t>& part_upstream) {
  // Few parts (the common case) are found by a scan; many (an MGET over hundreds of slots) by a
  // map, so that grouping stays linear in the keys.
  constexpr std::size_t kScanned = 16;
  thread_local std::unordered_map<std::size_t, std::uint16_t> index;
  index.clear();
  key_part.clear();
  part_upstream.clear();
  for (std::size_t i = 0; i < keys; ++i) {
    const std::size_t up = route(i);
    std::size_t p = 0;
    if (part_upstream.size() <= kScanned) {
      while (p < part_upstream.size() && part_upstream[p] != up) {
        ++p;
      }
    } else {
      const auto found = index.find(up);
      p = found == index.end() ? part_upstream.size() : found->second;
    }
    if (p == part_upstream.size()) {
      if (p == kMaxParts) {
        return std::nullopt;
      }
      part_upstream.push_back(up);
      if (part_upstream.size() == kScanned + 1) {
        for (std::size_t q = 0; q < part_upstream.size(); ++q) {
          index.emplace(part_upstream[q], static_cast<std::uint16_t>(q));
        }
      } else if (part_upstream.size() > kScanned + 1) {
        index.emplace(up, static_cast<std::uint16_t>(p));
      }
    }
    key_part.push_back(static_cast<std::uint16_t>(p));
  }
  return part_upstream.size();
}

// Part `part`'s request: the command's name, then each of its keys with the `step - 1`
// arguments after it (MSET: the value), in the request's order. `keys`: the key arguments'
// indexes into `args`.
void part_request(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                  std::span<const std::uint16_t> key_part, std::size_t step, std::size_t part,
                  std::vector<std::string_view>& out);
// Every part's request at once (out[p] is part p's), in one pass over the keys.
void part_requests(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                   std::span<const std::uint16_t> key_part, std::size_t step, std::size_t parts,
                   std::vector<std::vector<std::string_view>>& out);

// Appends the merged reply of parts that all succeeded: the sum of their integers (SumIntegers),
// +OK (AllOk), each key's element of its part's array put back in the request's order (Mget;
// a missing element answers nil in `protocol`), every part's array elements in part order
// (Concat), or the first part's reply that is not nil (FirstNonNil; nil when all are). Scan is
// scan_reply's.
void merge_parts(command::Merge merge, std::span<const std::string> parts,
                 std::span<const std::uint16_t> key_part, resp::Protocol protocol,
                 std::string& out);

// SCAN over a cluster's shards: the client's cursor is (shard cursor) * shards + shard, so one
// integer walks every shard in turn and 0 still starts and ends the walk. The shard and its own
// cursor for the client's `cursor`, or nothing when it is no cursor of `shards` shards.
struct ShardCursor {
  std::size_t shard = 0;
  std::uint64_t cursor = 0;
};
std::optional<ShardCursor> shard_cursor(std::string_view cursor, std::size_t shards);
// Shard `shard`'s SCAN reply with its cursor turned into the client's: the next shard's start
// when this shard is done, 0 after the last one. False (nothing appended) when the reply is not
// a SCAN reply or the cursor does not fit.
bool scan_reply(std::string_view reply, std::size_t shard, std::size_t shards, std::string& out);

// Splits a RESP array reply into its elements' bytes. False if it is not a complete array.
bool split_reply_array(std::string_view reply, std::vector<std::string_view>& elements);

}  // namespace seawall::proxy
