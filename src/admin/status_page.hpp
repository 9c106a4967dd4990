#pragma once
// The page GET / serves on the admin port: one self-contained HTML document (inline CSS and
// script, nothing fetched from elsewhere) that reads /status and /metrics from its own origin
// every two seconds and shows each upstream's breaker with its last transition, answers by
// source as a chart of the last five minutes, journal depth, clients and pinned sessions.
// Thread safety: returns static data.
#include <string_view>

namespace seawall::admin::detail {

std::string_view status_page_html();

// Sent with the page: the browser refuses any script, style, image or connection the page did
// not bring along or that goes to another origin.
inline constexpr std::string_view kStatusPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

}  // namespace seawall::admin::detail
