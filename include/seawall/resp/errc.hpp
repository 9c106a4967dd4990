#pragma once
// Parser outcomes. Each non-ok value maps to the text after "-ERR Protocol error: ".
#include <cstdint>
#include <string_view>

namespace seawall::resp {

enum class errc : std::uint8_t {
  ok = 0,
  need_more,                 // not an error: the frame is incomplete
  invalid_multibulk_length,  // "*abc", "*-5", or over the array limit; in a reply, an
                             // aggregate count over kMaxAggregateCount (reply_framer.hpp)
  invalid_bulk_length,       // "$abc", "$-5", or over the bulk limit
  expected_dollar,           // a multibulk element that is not a bulk string
  missing_crlf,              // a bulk payload not followed by \r\n
  inline_too_long,           // an inline command longer than the inline limit
  unbalanced_quotes,         // an inline command with an open quote
  invalid_reply_type,        // an upstream reply starting with an unknown byte
  invalid_integer,           // a malformed number in an upstream reply
  too_deep,                  // nesting beyond the depth limit
};

// Human text matching Redis's own wording where Redis has one.
std::string_view message(errc e);

}  // namespace seawall::resp
