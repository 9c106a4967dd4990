#include "seawall/resp/resp3.hpp"

#include <charconv>
#include <cstdint>

namespace seawall::resp {
namespace {

// Nesting beyond this is not a reply seawall produced; refuse rather than recurse deeply.
constexpr int kMaxDepth = 32;

// Converts the value at the start of `in`, advancing it. False when malformed.
bool convert(std::string& out, std::string_view& in, int depth) {
  if (in.empty() || depth > kMaxDepth) {
    return false;
  }
  const auto nl = in.find("\r\n");
  if (nl == std::string_view::npos) {
    return false;
  }
  const char type = in[0];
  const std::string_view line = in.substr(0, nl + 2);
  if (type != '$' && type != '*') {
    out.append(line);  // simple strings, errors, integers: the same bytes
    in.remove_prefix(line.size());
    return true;
  }
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(in.data() + 1, in.data() + nl, n);
  if (ec != std::errc() || end != in.data() + nl || n < -1) {
    return false;
  }
  in.remove_prefix(line.size());
  if (n == -1) {
    out.append("_\r\n");
    return true;
  }
  if (type == '$') {
    const auto size = static_cast<std::uint64_t>(n);
    if (in.size() < size + 2 || in.substr(size, 2) != "\r\n") {
      return false;
    }
    out.append(line);
    out.append(in.substr(0, size + 2));
    in.remove_prefix(size + 2);
    return true;
  }
  if (static_cast<std::uint64_t>(n) > in.size()) {
    return false;  // every element takes at least one byte
  }
  out.append(line);
  for (std::int64_t i = 0; i < n; ++i) {
    if (!convert(out, in, depth + 1)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool append_as_resp3(std::string& out, std::string_view reply) {
  const std::size_t mark = out.size();
  std::string_view in = reply;
  if (!convert(out, in, 0) || !in.empty()) {
    out.resize(mark);
    return false;
  }
  return true;
}

}  // namespace seawall::resp
