#include "seawall/resp/writer.hpp"

#include <charconv>

namespace seawall::resp {
namespace {

void append_number_line(std::string& out, char prefix, std::int64_t v) {
  char buf[24];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
  static_cast<void>(ec);  // 22 bytes always fit an int64
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void append_simple(std::string& out, std::string_view s) {
  out.push_back('+');
  out.append(s);
  out.append("\r\n");
}

void append_error(std::string& out, std::string_view s) {
  out.push_back('-');
  out.append(s);
  out.append("\r\n");
}

void append_integer(std::string& out, std::int64_t v) { append_number_line(out, ':', v); }

void append_bulk(std::string& out, std::string_view s) {
  append_number_line(out, '$', static_cast<std::int64_t>(s.size()));
  out.append(s);
  out.append("\r\n");
}

void append_null(std::string& out) { out.append("$-1\r\n"); }

void append_array_header(std::string& out, std::size_t n) {
  append_number_line(out, '*', static_cast<std::int64_t>(n));
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  append_array_header(out, args.size());
  for (std::string_view a : args) {
    append_bulk(out, a);
  }
}

}  // namespace seawall::resp
