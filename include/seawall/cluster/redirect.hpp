#pragma once
// A cluster node's redirect replies, without I/O: "-MOVED <slot> <host>:<port>" (the slot lives
// on that node now) and "-ASK <slot> <host>:<port>" (the slot is being migrated there: send that
// one command, preceded by ASKING, to that node; the map is unchanged).
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string_view>

#include "seawall/cluster/slot_map.hpp"

namespace seawall::cluster {

enum class RedirectKind : std::uint8_t { Moved, Ask };

struct Redirect {
  RedirectKind kind = RedirectKind::Moved;
  std::uint16_t slot = 0;
  NodeAddress node;

  bool operator==(const Redirect&) const = default;
};

// Whether `reply` (one complete RESP reply) could be a redirect: cheap, for the reply path.
inline bool maybe_redirect(std::string_view reply) {
  return reply.size() > 5 && reply[0] == '-' && (reply[1] == 'M' || reply[1] == 'A');
}

// -CLUSTERDOWN (the cluster lost a slot's master) or -TRYAGAIN (a multi-key command during a
// slot's migration): the map is changing, so it is asked again.
inline bool cluster_down(std::string_view reply) { return reply.starts_with("-CLUSTERDOWN"); }
inline bool map_is_changing(std::string_view reply) {
  return cluster_down(reply) || reply.starts_with("-TRYAGAIN");
}

// nullopt for any other reply, and for a redirect that does not parse.
std::optional<Redirect> parse_redirect(std::string_view reply);

}  // namespace seawall::cluster
