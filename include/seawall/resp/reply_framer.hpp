#pragma once
// Finds where one complete RESP2/RESP3 reply ends in an upstream read buffer, without decoding.
// Incremental: remembers its position and the open aggregates, so a large reply arriving in many
// reads is scanned once. Attributes (|) are framed together with the value they annotate.
//
// Thread safety: one framer per upstream connection; not shared.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "seawall/resp/errc.hpp"

namespace seawall::resp {

// Most values one aggregate header may announce (a map or attribute: pairs). Redis holds at most
// 2^32 - 1 elements in a list, set or hash, and a reply this long would need at least 12 GiB
// buffered; the bound keeps the framer's counting (2n + 1 for an attribute) far from overflow.
// A larger count is errc::invalid_multibulk_length.
inline constexpr std::int64_t kMaxAggregateCount = 0xFFFF'FFFF;

struct FramedReply {
  std::size_t length = 0;  // bytes of the whole reply
  // First byte of the reply: '+', '-', '$', '*', ...; '|' when an attribute precedes the value,
  // so a caller testing for '-' does not see an error that carries an attribute.
  char type = 0;
};

class ReplyFramer {
 public:
  explicit ReplyFramer(std::uint32_t max_depth = 64) : max_depth_(max_depth) {}

  // ok: `out` describes the reply at the start of `data`; need_more: call again with the same
  // reply's bytes (plus more) at the start of data; anything else: the stream is corrupt.
  errc feed(std::string_view data, FramedReply& out);

  void reset();

 private:
  std::uint32_t max_depth_;
  std::size_t pos_ = 0;
  char first_type_ = 0;
  // Values still expected in each open aggregate, innermost last.
  std::vector<std::int64_t> remaining_;
};

}  // namespace seawall::resp
