#pragma once
// The pieces of GET /status as pure functions of what they show, so that the JSON is unit-tested
// without a running Server: each upstream (breaker, counters, journal, last transition), the
// process's answers by source, and the configuration with the last reload's result. They read
// the same atomics and accessors the /metrics callbacks read (data_metrics.cpp); nothing here
// keeps a second count.
// Thread safety: the functions read atomics and take the locks the accessors take; none of them
// is held by the data path. ConfigStatus is a value copied under Server's config lock.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "seawall/config/config.hpp"
#include "seawall/policy/fallback.hpp"
#include "seawall/upstream/upstream_state.hpp"

namespace seawall::app::detail {

using WallClock = std::chrono::system_clock;

// What was loaded, and what the latest reload did.
struct ConfigStatus {
  enum class Reload { None, Ok, Failed };

  std::string path;
  std::uint64_t version = 1;  // 1 for the file loaded at start, +1 per successful reload
  std::string hash;           // content_hash() of the text that version was loaded from
  WallClock::time_point loaded_at;
  Reload last_reload = Reload::None;  // None until the first reload attempt
  WallClock::time_point last_reload_at;
  std::string last_reload_reason;  // "SIGHUP" or "file changed"
  std::string last_reload_error;   // the errors of a failed reload, one per line
};

// Where clients connect: "127.0.0.1:6380", or "127.0.0.1:6380, [::1]:6380" for several
// addresses (an IPv6 one in brackets).
std::string listen_endpoints(const config::ListenConfig& listen, std::uint16_t port);
// "2026-12-04T20:17:39.123Z".
std::string iso8601_utc(WallClock::time_point t);
// FNV-1a 64 of `text`, as 16 hex digits: tells two config versions' contents apart.
std::string content_hash(std::string_view text);

// One upstream as a JSON object. `now` is the wall-clock time "seconds ago" is measured from.
void append_upstream_status(std::string& out, upstream::UpstreamState& state,
                            const config::UpstreamConfig& config, WallClock::time_point now);
// {"upstream":n,"l1_fresh":n,...} and "fallthrough_denied" as members "answers":{...},
// "fallthrough_denied":n (no leading comma).
void append_answers(std::string& out, const policy::AnswerCounters& counters);
// The "config" object.
void append_config_status(std::string& out, const ConfigStatus& config, WallClock::time_point now);

}  // namespace seawall::app::detail
