#include "seawall/cluster/redirect.hpp"

#include <charconv>

namespace seawall::cluster {

std::optional<Redirect> parse_redirect(std::string_view reply) {
  if (!maybe_redirect(reply)) {
    return std::nullopt;
  }
  const auto end = reply.find("\r\n");
  std::string_view line = reply.substr(1, end == std::string_view::npos ? reply.size() : end - 1);
  Redirect out;
  if (line.starts_with("MOVED ")) {
    out.kind = RedirectKind::Moved;
    line.remove_prefix(6);
  } else if (line.starts_with("ASK ")) {
    out.kind = RedirectKind::Ask;
    line.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = line.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  unsigned slot = 0;
  const auto [slot_end, ec] = std::from_chars(line.data(), line.data() + space, slot);
  if (ec != std::errc() || slot_end != line.data() + space || slot >= kSlots) {
    return std::nullopt;
  }
  out.slot = static_cast<std::uint16_t>(slot);
  std::optional<NodeAddress> node = parse_node_address(line.substr(space + 1));
  if (!node) {
    return std::nullopt;
  }
  out.node = std::move(*node);
  return out;
}

}  // namespace seawall::cluster
