#pragma once
// What the admin server asks the rest of the process for, as plain callbacks, so that the admin
// module depends on no proxy, upstream or breaker type. The composition root fills them in.
// Thread safety: every callback runs on the admin server's own thread, concurrently with the
// data path: it must only read atomics, take a lock the data path does not hold, or post work.
// Callbacks may throw; the request then gets a 500 and the server carries on.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace seawall::admin {

// What GET /readyz reports. Starting and Draining answer 503.
enum class Readiness { Starting, Ready, Draining };

// POST /breakers/<name>/<action>.
enum class BreakerAction { Open, Close, Reset };

// "open", "close", "reset".
std::string_view action_name(BreakerAction action);

struct Handlers {
  // GET /metrics: the body, in Prometheus text format 0.0.4. Unset: 404.
  std::function<std::string()> metrics;
  // GET /status: the body, a JSON document. Unset: 404.
  std::function<std::string()> status;
  // POST /breakers/<name>/<action>: applies the action and returns a JSON body for the 200
  // answer, or nullopt when no breaker has that name (404). Unset: every name is unknown.
  std::function<std::optional<std::string>(std::string_view name, BreakerAction action)> breaker;
};

}  // namespace seawall::admin
