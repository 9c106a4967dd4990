#pragma once
// The admin routes as a pure function of method, target, readiness and handlers: no Beast, no
// sockets, so every route and status code is unit-tested directly; admin_server.cpp only moves
// bytes.
// Thread safety: route() calls the handlers; see handlers.hpp.
#include <string>
#include <string_view>

#include "seawall/admin/handlers.hpp"

namespace seawall::admin::detail {

struct Response {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::string allow;                    // the Allow header of a 405, else empty
  std::string content_security_policy;  // the page's Content-Security-Policy, else empty
};

inline constexpr std::string_view kPlainText = "text/plain; charset=utf-8";
inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kHtml = "text/html; charset=utf-8";

// `method` is the request's method token ("GET"); `target` its request-target, whose query
// string is ignored. HEAD is routed as GET (the caller drops the body).
Response route(std::string_view method, std::string_view target, Readiness readiness,
               const Handlers& handlers);

}  // namespace seawall::admin::detail
