#pragma once
// Pieces of the Prometheus text exposition format 0.0.4: value formatting, escaping and name
// checks. Registry::render() composes them; they are public so tests and other exporters can
// use the same rules.
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>

namespace seawall::metrics {

// The Content-Type of a scrape response.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// A float as the format wants it: "+Inf", "-Inf", "NaN", else the shortest text that reads back
// as the same double, in plain notation ("0.00025", "3", "1234567.5") unless the decimal exponent
// is below -4 or at least 21 ("5e-05", "1e+21"), as Go's %g does for small numbers. -0 is "0".
void append_value(std::string& out, double value);
void append_value(std::string& out, std::uint64_t value);

// Label values: backslash, double quote and line feed become \\, \" and \n.
void append_escaped_label_value(std::string& out, std::string_view value);
// HELP text: backslash and line feed become \\ and \n (quotes stay as they are).
void append_escaped_help(std::string& out, std::string_view help);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]* without the reserved "__" prefix.
bool is_valid_label_name(std::string_view name);

}  // namespace seawall::metrics
