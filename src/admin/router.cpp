#include "admin/router.hpp"

#include <exception>
#include <optional>

#include "admin/status_page.hpp"
#include "seawall/admin/json.hpp"
#include "seawall/metrics/text_format.hpp"

namespace seawall::admin {

std::string_view action_name(BreakerAction action) {
  switch (action) {
    case BreakerAction::Open:
      return "open";
    case BreakerAction::Close:
      return "close";
    case BreakerAction::Reset:
      return "reset";
  }
  return "unknown";
}

namespace detail {
namespace {

constexpr std::string_view kBreakersPrefix = "/breakers/";

Response text(unsigned status, std::string body) {
  return Response{status, std::string(kPlainText), std::move(body), {}, {}};
}

Response json(unsigned status, std::string body) {
  return Response{status, std::string(kJson), std::move(body), {}, {}};
}

Response not_found() { return text(404, "not found\n"); }

Response method_not_allowed(std::string_view allow) {
  Response response = text(405, "method not allowed\n");
  response.allow = allow;
  return response;
}

std::optional<BreakerAction> parse_action(std::string_view text) {
  for (BreakerAction action : {BreakerAction::Open, BreakerAction::Close, BreakerAction::Reset}) {
    if (text == action_name(action)) {
      return action;
    }
  }
  return std::nullopt;
}

Response readyz(Readiness readiness) {
  switch (readiness) {
    case Readiness::Ready:
      return text(200, "ready\n");
    case Readiness::Starting:
      return text(503, "starting\n");
    case Readiness::Draining:
      return text(503, "draining\n");
  }
  return text(503, "not ready\n");
}

// /breakers/<name>/<action>
Response breaker(bool post, std::string_view rest, const Handlers& handlers) {
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return not_found();
  }
  const std::string_view name = rest.substr(0, slash);
  const std::optional<BreakerAction> action = parse_action(rest.substr(slash + 1));
  if (!action) {
    return not_found();
  }
  if (!post) {
    return method_not_allowed("POST");
  }
  std::optional<std::string> body;
  if (handlers.breaker) {
    body = handlers.breaker(name, *action);
  }
  if (!body) {
    return json(404, "{\"error\":\"unknown breaker\",\"breaker\":" + json_string(name) + "}\n");
  }
  return json(200, std::move(*body));
}

Response dispatch(std::string_view method, std::string_view path, Readiness readiness,
                  const Handlers& handlers) {
  const bool get = method == "GET" || method == "HEAD";
  constexpr std::string_view kGetOnly = "GET, HEAD";
  if (path == "/") {
    // The status page for humans; it reads /status and /metrics itself, so it needs them.
    if (!get) {
      return method_not_allowed(kGetOnly);
    }
    if (!handlers.status || !handlers.metrics) {
      return not_found();
    }
    return Response{200,
                    std::string(kHtml),
                    std::string(status_page_html()),
                    {},
                    std::string(kStatusPagePolicy)};
  }
  if (path == "/healthz") {
    // Liveness: answering at all is the proof. Nothing else is checked, so that a sick
    // dependency can never get the process restarted.
    return get ? text(200, "ok\n") : method_not_allowed(kGetOnly);
  }
  if (path == "/readyz") {
    // Readiness says only whether this process accepts clients. It deliberately ignores Redis:
    // when Redis is down seawall still answers (cache, defaults, misses), so taking the pod out
    // of service then would turn a cache outage into an application outage, which is exactly
    // what seawall exists to prevent.
    return get ? readyz(readiness) : method_not_allowed(kGetOnly);
  }
  if (path == "/metrics") {
    if (!get) {
      return method_not_allowed(kGetOnly);
    }
    if (!handlers.metrics) {
      return not_found();
    }
    return Response{200, std::string(metrics::kTextContentType), handlers.metrics(), {}, {}};
  }
  if (path == "/status") {
    if (!get) {
      return method_not_allowed(kGetOnly);
    }
    return handlers.status ? json(200, handlers.status()) : not_found();
  }
  if (path.starts_with(kBreakersPrefix)) {
    return breaker(method == "POST", path.substr(kBreakersPrefix.size()), handlers);
  }
  return not_found();
}

}  // namespace

Response route(std::string_view method, std::string_view target, Readiness readiness,
               const Handlers& handlers) {
  const std::string_view path = target.substr(0, target.find('?'));
  try {
    return dispatch(method, path, readiness, handlers);
  } catch (const std::exception& e) {
    return text(500, std::string("internal error: ") + e.what() + "\n");
  } catch (...) {
    return text(500, "internal error\n");
  }
}

}  // namespace detail
}  // namespace seawall::admin
