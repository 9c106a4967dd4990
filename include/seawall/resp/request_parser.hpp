#pragma once
// Frames client commands (multibulk and inline) from a read buffer without copying payloads.
//
// Incremental: when a command is incomplete, parse() returns need_more and remembers how far it
// got, so a 10 MB SET arriving in 1000 reads is scanned once, not 1000 times. The caller must
// keep the unconsumed bytes of the current command at the start of the data it passes next
// (it may move them: only offsets are kept). After ok, the caller consumes `consumed` bytes.
//
// Thread safety: one parser per session; not shared.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/resp/errc.hpp"
#include "seawall/resp/limits.hpp"

namespace seawall::resp {

enum class RequestKind : std::uint8_t { Multibulk, Inline };

struct ParsedRequest {
  std::vector<std::string_view> args;  // views into the data (or into the parser, for inline)
  std::size_t consumed = 0;            // bytes of the framed command, including any empty lines
  RequestKind kind = RequestKind::Multibulk;
};

class RequestParser {
 public:
  explicit RequestParser(const Limits& limits) : limits_(limits) {}

  // ok: `out` holds a command; need_more: call again with more data; anything else is fatal
  // for the client. An empty inline line yields ok with no args (Redis ignores it).
  errc parse(std::string_view data, ParsedRequest& out);

  // Bytes the current incomplete command needs at least, so the caller can size its buffer
  // once for a large bulk. 0 when unknown.
  std::size_t bytes_hint() const { return hint_; }

  // After expected_dollar: the byte found where '$' was expected (Redis names it in its error).
  char unexpected_byte() const { return unexpected_; }

  // Between commands (no incomplete one), frees the capacity its scratch storage grew to; does
  // nothing in the middle of a command. The heap bytes that storage holds now:
  void release_memory();
  std::size_t heap_bytes() const;

 private:
  errc parse_inline(std::string_view data, ParsedRequest& out);
  void reset();

  Limits limits_;
  // Resumable multibulk state: offsets relative to the command's first byte.
  std::size_t pos_ = 0;
  std::int64_t expected_args_ = -1;
  std::vector<std::pair<std::size_t, std::size_t>> arg_spans_;  // (offset, length)
  std::size_t hint_ = 0;
  char unexpected_ = 0;
  std::string inline_storage_;  // unescaped inline arguments live here
};

}  // namespace seawall::resp
