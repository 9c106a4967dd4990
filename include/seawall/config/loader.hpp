#pragma once
// YAML file -> validated Config. Every error is collected, each naming file, line and key path:
//   seawall.yaml:12: upstreams[1].request_timeout: must be > 0
// Thread safety: pure functions.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/config/config.hpp"

namespace seawall::config {

struct LoadResult {
  std::optional<Config> config;     // set when errors is empty
  std::vector<std::string> errors;  // "file:line: key.path: message"
};

// Reads and validates a YAML file. Never throws.
LoadResult load_file(const std::string& path);
// Same, from text; `source_name` is used in messages.
LoadResult load_string(std::string_view text, const std::string& source_name);

// Every key path the loader looks up while binding `text`, set or not, once each, in the order
// first asked: "listen", "listen.address", ..., "upstreams[0].address" (for `upstreams: [{}]`).
// What tests compare other modules' per-key declarations against.
std::vector<std::string> keys_read(std::string_view text);

// "250ms", "2s", "1m", "0s" -> milliseconds. nullopt when malformed.
std::optional<Millis> parse_duration(std::string_view text);
// "512mb", "64kb", "1gb", "100" (bytes), case-insensitive -> bytes. nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace seawall::config
