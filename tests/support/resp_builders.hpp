#pragma once
// RESP for tests, written independently of src/resp so that a bug there cannot hide itself: encode
// a command or an expected reply, frame a reply stream, parse a command stream. Header-only.
// Thread safety: pure functions.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seawall::support {

// "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" for {"GET", "k"}.
inline std::string command(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out.append(a);
    out += "\r\n";
  }
  return out;
}

inline std::string command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  }
  return out;
}

// Replies, as RESP2 bytes.
inline std::string bulk(std::string_view value) {
  return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n";
}
inline std::string nil() { return "$-1\r\n"; }
inline std::string simple(std::string_view text) { return "+" + std::string(text) + "\r\n"; }
inline std::string error(std::string_view line) { return "-" + std::string(line) + "\r\n"; }
inline std::string integer(std::int64_t n) { return ":" + std::to_string(n) + "\r\n"; }
// An array of already encoded elements.
inline std::string array(std::initializer_list<std::string> elements) {
  std::string out = "*" + std::to_string(elements.size()) + "\r\n";
  for (const std::string& e : elements) {
    out += e;
  }
  return out;
}

namespace detail {

// The end of the CRLF-terminated line starting at `pos` (the index after LF), or npos.
inline std::size_t line_end(std::string_view bytes, std::size_t pos) {
  const std::size_t cr = bytes.find("\r\n", pos);
  return cr == std::string_view::npos ? std::string_view::npos : cr + 2;
}

inline std::optional<std::int64_t> to_int(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  bool negative = text.front() == '-';
  if (negative) {
    text.remove_prefix(1);
  }
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return negative ? -n : n;
}

// The end of the RESP2/RESP3 value starting at `pos`; npos when incomplete or malformed.
inline std::size_t value_end(std::string_view bytes, std::size_t pos, int depth = 0) {
  if (pos >= bytes.size() || depth > 64) {
    return std::string_view::npos;
  }
  const char type = bytes[pos];
  const std::size_t header_end = line_end(bytes, pos);
  if (header_end == std::string_view::npos) {
    return std::string_view::npos;
  }
  const auto n = to_int(bytes.substr(pos + 1, header_end - pos - 3));
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return header_end;
    case '$':
    case '!':
    case '=': {
      if (!n) {
        return std::string_view::npos;
      }
      if (*n < 0) {
        return header_end;
      }
      const std::size_t end = header_end + static_cast<std::size_t>(*n) + 2;
      return end <= bytes.size() ? end : std::string_view::npos;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (!n) {
        return std::string_view::npos;
      }
      if (*n < 0) {
        return header_end;
      }
      const std::int64_t count = (type == '%' || type == '|') ? *n * 2 : *n;
      std::size_t at = header_end;
      for (std::int64_t i = 0; i < count; ++i) {
        at = value_end(bytes, at, depth + 1);
        if (at == std::string_view::npos) {
          return at;
        }
      }
      return at;
    }
    default:
      return std::string_view::npos;
  }
}

}  // namespace detail

// How many complete replies `bytes` starts with.
inline std::size_t count_replies(std::string_view bytes) {
  std::size_t count = 0;
  std::size_t at = 0;
  while (at < bytes.size()) {
    at = detail::value_end(bytes, at);
    if (at == std::string_view::npos) {
      break;
    }
    ++count;
  }
  return count;
}

// The bytes of the first `n` replies in `bytes`, or nullopt when fewer are complete.
inline std::optional<std::size_t> replies_length(std::string_view bytes, std::size_t n) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    at = detail::value_end(bytes, at);
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
  }
  return at;
}

// Parses one multibulk command (what clients and seawall send to Redis) at the front of `bytes`.
// Returns its arguments and sets `consumed`; nullopt when incomplete. `malformed` is set when the
// bytes are not a multibulk of bulk strings.
inline std::optional<std::vector<std::string>> parse_command(std::string_view bytes,
                                                             std::size_t& consumed,
                                                             bool& malformed) {
  malformed = false;
  if (bytes.empty()) {
    return std::nullopt;
  }
  if (bytes.front() != '*') {
    malformed = true;
    return std::nullopt;
  }
  std::size_t at = detail::line_end(bytes, 0);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  const auto count = detail::to_int(bytes.substr(1, at - 3));
  if (!count || *count < 1) {
    malformed = true;
    return std::nullopt;
  }
  std::vector<std::string> args;
  for (std::int64_t i = 0; i < *count; ++i) {
    if (at >= bytes.size()) {
      return std::nullopt;
    }
    if (bytes[at] != '$') {
      malformed = true;
      return std::nullopt;
    }
    const std::size_t header_end = detail::line_end(bytes, at);
    if (header_end == std::string_view::npos) {
      return std::nullopt;
    }
    const auto length = detail::to_int(bytes.substr(at + 1, header_end - at - 3));
    if (!length || *length < 0) {
      malformed = true;
      return std::nullopt;
    }
    const std::size_t end = header_end + static_cast<std::size_t>(*length);
    if (end + 2 > bytes.size()) {
      return std::nullopt;
    }
    args.emplace_back(bytes.substr(header_end, static_cast<std::size_t>(*length)));
    at = end + 2;
  }
  consumed = at;
  return args;
}

}  // namespace seawall::support
