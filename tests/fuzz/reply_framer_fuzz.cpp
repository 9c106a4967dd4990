// libFuzzer target for resp::ReplyFramer, which frames whatever an upstream sends (RESP2 and
// RESP3: nested aggregates, maps, sets, pushes, attributes, big numbers, verbatim strings).
// Whatever the bytes, it must not crash, read out of bounds, overflow or loop, and:
// - every framed reply is at least one byte and no longer than the buffer holds;
// - the replies and the final outcome are the same whether the bytes arrive in one read, one
//   byte per read, or in random reads (the framer resumes from an offset and its stack of open
//   aggregates, and the buffer moves as it grows);
// - a framed reply's bytes framed again on their own give one reply of the same length and type.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "seawall/resp/reply_framer.hpp"

namespace {

using seawall::fuzz::check;
using seawall::resp::errc;
using seawall::resp::FramedReply;
using seawall::resp::ReplyFramer;

// Below the production 64 so that short inputs reach the depth limit too.
constexpr std::uint32_t kMaxDepth = 16;

struct Reply {
  std::size_t length = 0;
  char type = 0;
  bool operator==(const Reply&) const = default;
};

struct Outcome {
  std::vector<Reply> replies;
  errc last = errc::need_more;  // need_more when every byte was framed or is still incomplete
  bool operator==(const Outcome&) const = default;
};

Outcome frame(std::string_view data, const std::vector<std::size_t>& reads) {
  ReplyFramer framer(kMaxDepth);
  std::string buffer;
  std::size_t fed = 0;
  Outcome outcome;
  for (const std::size_t n : reads) {
    buffer.append(data.substr(fed, n));
    fed += n;
    while (!buffer.empty()) {
      FramedReply reply;
      const errc e = framer.feed(buffer, reply);
      if (e == errc::need_more) {
        break;
      }
      if (e != errc::ok) {
        outcome.last = e;
        return outcome;
      }
      check(reply.length > 0, "a framed reply is at least one byte");
      check(reply.length <= buffer.size(), "reply length <= bytes available");
      check(reply.type == buffer[0], "the reply's type is its first byte");
      outcome.replies.push_back({reply.length, reply.type});
      buffer.erase(0, reply.length);
    }
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const Outcome whole = frame(data, seawall::fuzz::whole_read(data));
  check(frame(data, seawall::fuzz::byte_reads(data)) == whole, "byte reads == one read");
  check(frame(data, seawall::fuzz::random_reads(data, 0)) == whole, "random reads == one read");
  std::size_t offset = 0;
  for (const Reply& reply : whole.replies) {
    const std::string_view own = data.substr(offset, reply.length);
    const Outcome again = frame(own, seawall::fuzz::whole_read(own));
    check(again.replies.size() == 1 && again.replies[0] == reply && again.last == errc::need_more,
          "a reply's own bytes frame to the same reply");
    offset += reply.length;
  }
  return 0;
}
