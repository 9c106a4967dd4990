#pragma once
// Shared by the loader tests of each config section.
#include <string>
#include <string_view>

#include "seawall/config/loader.hpp"

namespace seawall::config::test_support {

// Appended after the part under test so that its line numbers are not shifted.
inline constexpr std::string_view kOneUpstream =
    "upstreams:\n"
    "  - name: main\n"
    "    address: 127.0.0.1:6379\n";

inline LoadResult load_with_upstream(std::string_view yaml) {
  return load_string(std::string(yaml) + std::string(kOneUpstream), "test.yaml");
}

// One upstream named main whose other keys are `body` (indented 4 spaces): its line 3 is
// body's first line.
inline LoadResult load_upstream(std::string_view body) {
  return load_string("upstreams:\n  - name: main\n" + std::string(body), "test.yaml");
}

}  // namespace seawall::config::test_support
