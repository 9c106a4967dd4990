#include "seawall/resp/request_parser.hpp"

#include <cstring>

#include "seawall/resp/number.hpp"

namespace seawall::resp {
namespace {

// Redis refuses a length line longer than this before its CRLF arrives.
constexpr std::size_t kMaxLengthLine = 64 * 1024;

// Index of the '\n' ending the line that starts at `from`, requiring "\r\n". npos if absent.
std::size_t find_crlf(std::string_view data, std::size_t from) {
  const char* base = data.data();
  std::size_t at = from;
  while (at < data.size()) {
    const void* hit = std::memchr(base + at, '\r', data.size() - at);
    if (hit == nullptr) {
      return std::string_view::npos;
    }
    at = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
    if (at + 1 >= data.size()) {
      return std::string_view::npos;
    }
    if (base[at + 1] == '\n') {
      return at + 1;
    }
    ++at;
  }
  return std::string_view::npos;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Splits an inline line the way Redis's sdssplitargs does: whitespace separated, "double quotes"
// with C escapes and \xHH, 'single quotes' with \' only. Each argument is appended to `storage`;
// `spans` receives (offset, length) into it. False on unbalanced quotes.
bool split_inline(std::string_view line, std::string& storage,
                  std::vector<std::pair<std::size_t, std::size_t>>& spans) {
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (true) {
    while (i < n && is_space(line[i])) {
      ++i;
    }
    if (i >= n) {
      return true;
    }
    const std::size_t start = storage.size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (i >= n) {
          return false;
        }
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_value(line[i + 2]) >= 0 &&
            hex_value(line[i + 3]) >= 0) {
          storage.push_back(
              static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c = line[i];
          switch (c) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              break;
          }
          storage.push_back(c);
        } else if (line[i] == '"') {
          // A closing quote must be followed by a space or the end of the line.
          if (i + 1 < n && !is_space(line[i + 1])) {
            return false;
          }
          done = true;
        } else {
          storage.push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) {
          return false;
        }
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          storage.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !is_space(line[i + 1])) {
            return false;
          }
          done = true;
        } else {
          storage.push_back(line[i]);
        }
      } else {
        if (i >= n || is_space(line[i])) {
          done = true;
        } else if (line[i] == '"') {
          in_double = true;
        } else if (line[i] == '\'') {
          in_single = true;
        } else {
          storage.push_back(line[i]);
        }
      }
      if (i < n) {
        ++i;
      }
    }
    spans.emplace_back(start, storage.size() - start);
  }
}

}  // namespace

void RequestParser::reset() {
  pos_ = 0;
  expected_args_ = -1;
  arg_spans_.clear();
  hint_ = 0;
}

void RequestParser::release_memory() {
  if (pos_ != 0 || expected_args_ >= 0) {
    return;  // an incomplete command's state
  }
  std::vector<std::pair<std::size_t, std::size_t>>().swap(arg_spans_);
  std::string().swap(inline_storage_);
}

std::size_t RequestParser::heap_bytes() const {
  const std::size_t inline_bytes =
      inline_storage_.capacity() > std::string().capacity() ? inline_storage_.capacity() : 0;
  return arg_spans_.capacity() * sizeof(arg_spans_[0]) + inline_bytes;
}

errc RequestParser::parse(std::string_view data, ParsedRequest& out) {
  out.args.clear();
  out.consumed = 0;
  if (data.empty()) {
    return errc::need_more;
  }
  if (expected_args_ < 0 && data[0] != '*') {
    out.kind = RequestKind::Inline;
    return parse_inline(data, out);
  }
  out.kind = RequestKind::Multibulk;

  if (expected_args_ < 0) {
    const std::size_t nl = find_crlf(data, 0);
    if (nl == std::string_view::npos) {
      return data.size() > kMaxLengthLine ? errc::invalid_multibulk_length : errc::need_more;
    }
    const auto count = parse_int64(data.substr(1, nl - 2));
    // Compared as unsigned: a max_array above INT64_MAX would turn negative as an int64 and
    // refuse every command.
    if (!count || (*count > 0 && static_cast<std::uint64_t>(*count) > limits_.max_array)) {
      return errc::invalid_multibulk_length;
    }
    if (*count <= 0) {
      // Redis silently ignores "*0" and "*-1" from clients.
      out.consumed = nl + 1;
      reset();
      return errc::ok;
    }
    expected_args_ = *count;
    pos_ = nl + 1;
    arg_spans_.reserve(static_cast<std::size_t>(*count < 1024 ? *count : 1024));
  }

  while (static_cast<std::int64_t>(arg_spans_.size()) < expected_args_) {
    if (pos_ >= data.size()) {
      hint_ = pos_ + 1;
      return errc::need_more;
    }
    if (data[pos_] != '$') {
      unexpected_ = data[pos_];
      return errc::expected_dollar;
    }
    const std::size_t nl = find_crlf(data, pos_);
    if (nl == std::string_view::npos) {
      return data.size() - pos_ > kMaxLengthLine ? errc::invalid_bulk_length : errc::need_more;
    }
    const auto len = parse_int64(data.substr(pos_ + 1, nl - pos_ - 2));
    if (!len || *len < 0 || static_cast<std::uint64_t>(*len) > limits_.max_bulk) {
      return errc::invalid_bulk_length;
    }
    const std::size_t payload = nl + 1;
    // Cannot wrap: *len <= INT64_MAX, and payload is an offset into a buffer in memory.
    const std::size_t end = payload + static_cast<std::size_t>(*len);
    if (end + 2 > data.size()) {
      hint_ = end + 2;
      return errc::need_more;
    }
    if (data[end] != '\r' || data[end + 1] != '\n') {
      return errc::missing_crlf;
    }
    arg_spans_.emplace_back(payload, static_cast<std::size_t>(*len));
    pos_ = end + 2;
  }

  out.args.reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) {
    out.args.emplace_back(data.data() + offset, length);
  }
  out.consumed = pos_;
  reset();
  return errc::ok;
}

errc RequestParser::parse_inline(std::string_view data, ParsedRequest& out) {
  const void* hit = std::memchr(data.data(), '\n', data.size());
  if (hit == nullptr) {
    return data.size() > limits_.max_inline ? errc::inline_too_long : errc::need_more;
  }
  const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - data.data());
  if (nl > limits_.max_inline) {
    return errc::inline_too_long;
  }
  std::string_view line = data.substr(0, nl);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  inline_storage_.clear();
  arg_spans_.clear();
  if (!split_inline(line, inline_storage_, arg_spans_)) {
    arg_spans_.clear();
    return errc::unbalanced_quotes;
  }
  for (const auto& [offset, length] : arg_spans_) {
    out.args.emplace_back(inline_storage_.data() + offset, length);
  }
  arg_spans_.clear();
  out.consumed = nl + 1;
  return errc::ok;
}

}  // namespace seawall::resp
