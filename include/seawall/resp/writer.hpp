#pragma once
// Appends RESP2 values to a std::string. Pure functions; no allocation beyond the string's growth.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace seawall::resp {

void append_simple(std::string& out, std::string_view s);   // +s\r\n
void append_error(std::string& out, std::string_view s);    // -s\r\n (s includes the prefix word)
void append_integer(std::string& out, std::int64_t v);      // :v\r\n
void append_bulk(std::string& out, std::string_view s);     // $n\r\ns\r\n
void append_null(std::string& out);                         // $-1\r\n
void append_array_header(std::string& out, std::size_t n);  // *n\r\n
// A command as a multibulk of bulk strings.
void append_command(std::string& out, std::span<const std::string_view> args);

}  // namespace seawall::resp
