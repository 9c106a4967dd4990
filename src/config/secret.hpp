#pragma once
// Secrets the config names but does not contain: read from an environment variable or a file at
// load, so that config files (and ConfigMaps) stay free of passwords. Error messages name the
// variable or file, never the value.
// Thread safety: reads the process environment (getenv); call while no thread changes it.
#include <cstddef>
#include <string>
#include <string_view>

namespace seawall::config::detail {

// A password file larger than this is a mistake (the wrong path), not a password.
inline constexpr std::size_t kMaxSecretFile = 64 * 1024;

// "" when `name` is a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*), else the error.
std::string check_env_name(std::string_view name);
// Stores the value of environment variable `name` in `out`. Returns "" on success, else the
// error: unset or empty.
std::string secret_from_env(const std::string& name, std::string& out);
// Stores the contents of file `path` in `out`, without one trailing "\n" or "\r\n" (what `echo`
// and editors add). Returns "" on success, else the error: unreadable, empty or over
// kMaxSecretFile.
std::string secret_from_file(const std::string& path, std::string& out);

}  // namespace seawall::config::detail
