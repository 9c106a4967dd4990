#include "seawall/metrics/text_format.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace seawall::metrics {
namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (value == 0.0) {
    out += '0';  // also -0
    return;
  }
  // Shortest round-trip digits; the scientific form tells the decimal exponent.
  std::array<char, 64> buffer{};
  const auto sci = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                 std::chars_format::scientific);
  const std::string_view sci_text(buffer.data(), static_cast<std::size_t>(sci.ptr - buffer.data()));
  std::string_view exponent_text = sci_text.substr(sci_text.find('e') + 1);
  if (exponent_text.starts_with('+')) {
    exponent_text.remove_prefix(1);
  }
  int exponent = 0;
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  if (exponent < -4 || exponent >= 21) {
    out += sci_text;
    return;
  }
  const auto fixed =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  out.append(buffer.data(), fixed.ptr);
}

void append_value(std::string& out, std::uint64_t value) {
  std::array<char, 24> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), result.ptr);
}

namespace {

// The text format's escapes: a backslash and a newline always, a double quote in label values.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void append_escaped_label_value(std::string& out, std::string_view value) {
  append_escaped(out, value, true);
}

void append_escaped_help(std::string& out, std::string_view help) {
  append_escaped(out, help, false);
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || is_digit(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!is_letter(c) && !is_digit(c) && c != '_' && c != ':') {
      return false;
    }
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || is_digit(name.front()) || name.starts_with("__")) {
    return false;
  }
  for (char c : name) {
    if (!is_letter(c) && !is_digit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace seawall::metrics
