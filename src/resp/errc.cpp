#include "seawall/resp/errc.hpp"

namespace seawall::resp {

std::string_view message(errc e) {
  switch (e) {
    case errc::ok:
      return "ok";
    case errc::need_more:
      return "incomplete";
    case errc::invalid_multibulk_length:
      return "invalid multibulk length";
    case errc::invalid_bulk_length:
      return "invalid bulk length";
    case errc::expected_dollar:
      return "expected '$'";
    case errc::missing_crlf:
      return "expected CRLF after bulk data";
    case errc::inline_too_long:
      return "too big inline request";
    case errc::unbalanced_quotes:
      return "unbalanced quotes in request";
    case errc::invalid_reply_type:
      return "invalid reply type";
    case errc::invalid_integer:
      return "invalid integer";
    case errc::too_deep:
      return "nesting too deep";
  }
  return "unknown";
}

}  // namespace seawall::resp
