#pragma once
// The one JSON need of the admin pages: strings quoted and escaped correctly, so that names and
// messages from the config or from Redis can never break the document.
// Thread safety: pure functions.
#include <string>
#include <string_view>

namespace seawall::admin {

// Appends `text` as a JSON string literal: quotes, backslash and control characters escaped;
// other bytes (UTF-8) copied as they are.
void append_json_string(std::string& out, std::string_view text);
std::string json_string(std::string_view text);

}  // namespace seawall::admin
