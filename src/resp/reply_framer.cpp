#include "seawall/resp/reply_framer.hpp"

#include <cstring>

#include "seawall/resp/number.hpp"

namespace seawall::resp {

void ReplyFramer::reset() {
  pos_ = 0;
  first_type_ = 0;
  remaining_.clear();
}

errc ReplyFramer::feed(std::string_view data, FramedReply& out) {
  const char* base = data.data();
  while (true) {
    if (pos_ >= data.size()) {
      return errc::need_more;
    }
    // Every value starts with a type byte and a line ending in \r\n.
    const void* hit = std::memchr(base + pos_, '\n', data.size() - pos_);
    if (hit == nullptr) {
      return errc::need_more;
    }
    const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
    // A line is at least a type byte and "\r\n"; a bare "\r\n" would make `line` below span
    // SIZE_MAX bytes.
    if (nl < pos_ + 2 || base[nl - 1] != '\r') {
      return errc::invalid_reply_type;
    }
    const char type = base[pos_];
    if (pos_ == 0) {
      first_type_ = type;
    }
    const std::string_view line(base + pos_ + 1, nl - 1 - pos_ - 1);
    std::size_t next = nl + 1;
    std::int64_t children = 0;  // > 0: opens an aggregate with that many values

    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '(':
      case '#':
        break;
      case '$':
      case '!':
      case '=': {
        const auto len = parse_int64(line);
        if (!len || *len < -1) {
          return errc::invalid_integer;
        }
        if (*len >= 0) {
          // Compared against what is left rather than added to `next`: any int64 length is
          // legal (Redis's proto-max-bulk-len goes up to LLONG_MAX) and must not wrap.
          const auto n = static_cast<std::uint64_t>(*len);
          const std::size_t left = data.size() - next;
          if (n > left || left - n < 2) {
            return errc::need_more;  // the header is re-read next time: it is one short line
          }
          next += static_cast<std::size_t>(n);
          // Without this check a wrong length would pass, and every later reply would be framed
          // from the middle of a payload and handed to the wrong client.
          if (base[next] != '\r' || base[next + 1] != '\n') {
            return errc::missing_crlf;
          }
          next += 2;
        }
        break;
      }
      case '*':
      case '~':
      case '>':
      case '%':
      case '|': {
        const auto count = parse_int64(line);
        if (!count || *count < -1) {
          return errc::invalid_integer;
        }
        // Bounded before the doubling below, which overflowed for counts near INT64_MAX.
        if (*count > kMaxAggregateCount) {
          return errc::invalid_multibulk_length;
        }
        children = *count;
        if (type == '%') {
          children *= 2;
        } else if (type == '|') {
          // An attribute map is followed by the value it annotates: frame them as one.
          children = children * 2 + 1;
        }
        break;
      }
      default:
        return errc::invalid_reply_type;
    }

    pos_ = next;
    if (children > 0) {
      if (remaining_.size() >= max_depth_) {
        return errc::too_deep;
      }
      remaining_.push_back(children);
      continue;
    }
    // One value completed: close every aggregate it completes.
    while (!remaining_.empty() && --remaining_.back() == 0) {
      remaining_.pop_back();
    }
    if (remaining_.empty()) {
      out.length = pos_;
      out.type = first_type_;
      reset();
      return errc::ok;
    }
  }
}

}  // namespace seawall::resp
