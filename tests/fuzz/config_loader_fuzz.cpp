// libFuzzer target for config::load_string, the one code path behind load_file and
// --check-config. For arbitrary bytes (invalid YAML, YAML of the wrong shape, out-of-range
// values, unknown keys, duplicate documents) the loader must not crash or throw (its header
// says it never throws), and must return a Config exactly when it returns no errors, each
// error naming the source first ("fuzz.yaml:12: key.path: message").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "seawall/config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using seawall::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  const std::string name = "fuzz.yaml";
  seawall::config::LoadResult result;
  try {
    result = seawall::config::load_string(text, name);
  } catch (...) {
    seawall::fuzz::fail("load_string threw");
  }
  check(result.config.has_value() == result.errors.empty(), "a Config exactly when no errors");
  for (const std::string& error : result.errors) {
    check(error.size() > name.size() + 2 && error.starts_with(name) && (error[name.size()] == ':'),
          "each error starts with the source name and a colon");
  }
  if (result.config) {
    check(result.config->source_path == name, "the Config names its source");
  }
  return 0;
}
