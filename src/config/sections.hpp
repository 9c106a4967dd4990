#pragma once
// Binders of the config's sections that live in their own files, and the checks they share with
// the loader. Each bind_* reads its keys from a MapBinder into the config struct and reports what
// is wrong in the binder's Diagnostics.
// Thread safety: pure functions (they read the environment and the files a config names).
#include <string>
#include <string_view>
#include <vector>

#include "config/binder.hpp"
#include "seawall/config/config.hpp"

namespace seawall::config::detail {

// The smallest positive duration: for keys where 0 makes no sense.
inline constexpr Millis kPositive{1};

// "" when `text` is an IPv4 or IPv6 literal, else the error.
std::string check_ip_literal(std::string_view text);
// An IP literal in one spelling (inet_ntop's: "::1" for "0:0::1"), "" when it is none.
std::string canonical_ip(std::string_view text);
// "" when `text` is a plain upstream name (letters, digits, '_', '-', '.'), else the error.
std::string check_upstream_name(std::string_view text);
// A parser of a decimal number in [min, max] (percentages, multipliers, fractions) into `out`.
MapBinder::ScalarParser real_in(double& out, double min, double max);
// A password named by `password_env` or `password_file`, exactly one of them, read into `out`
// through config/secret.hpp. Returns false, having reported nothing, when neither is set. `env`
// and `file` receive the names given.
bool bind_password(MapBinder& m, std::string& out, std::string& env, std::string& file);
// `upstreams:` (required, at least one, names unique).
void bind_upstreams(MapBinder& root, std::vector<UpstreamConfig>& out);

}  // namespace seawall::config::detail
