#pragma once
// A command of another cluster shard on a pinned session. A session pinned to one shard's master
// (WATCH, SSUBSCRIBE, CLIENT TRACKING ... in front of a cluster) holds state there; on a plain
// Redis that connection still serves every key, and outside MULTI so does seawall: a command
// whose keys all live on another shard goes on a shared connection of that shard instead of the
// link, as an unpinned session's would, and the reader waits for its reply, so that it keeps its
// place among the link's replies. As on the shared path: the shard's breaker gives a permit and
// counts the outcome; when the shard is unavailable, or fails or refuses a read, the fallback
// chain answers (the L1 for reads; the journal or a refusal for writes, per writes_when_open); a
// write drops its keys' L1 copies when sent and when answered; a MOVED is followed (and the map
// updated) and an ASK is followed with ASKING, so the client sees neither. Not here: filling the
// L1 from its replies, and the order of one key's writes among clients (its copies are dropped,
// never kept).
//
// Ownership: a view the reader makes for one command; holds nothing after it. The reader keeps
// the session (and so every reference here) alive while forward() runs.
// Thread safety: the session's worker thread.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "seawall/command/command_rules.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/client_presence.hpp"
#include "seawall/proxy/pinned_link.hpp"
#include "seawall/proxy/worker_context.hpp"

namespace seawall::proxy {

class ShardDetour {
 public:
  ShardDetour(WorkerContext& ctx, PinnedHost& pinned, SessionHost& session, std::uint64_t client_id)
      : ctx_(ctx), pinned_(pinned), session_(session), client_id_(client_id) {}

  // The shard upstream a command of a session pinned to `linked` goes to instead: `linked` is a
  // cluster shard, the session is outside MULTI and not a RESP2 subscriber (Redis refuses other
  // commands then), the command starts or ends no connection state and does not block, and every
  // key in `keys` lives on one other shard of that cluster. nullopt otherwise.
  static std::optional<std::size_t> target(const WorkerContext& ctx, std::size_t linked,
                                           bool in_multi, bool resp2_subscriber,
                                           command::Command cmd,
                                           std::span<const std::string_view> args,
                                           std::span<const std::uint32_t> keys);
  // Sends it to shard upstream `up` and answers it in its place (see the header comment).
  awaitable<void> forward(command::Command cmd, std::span<const std::string_view> args,
                          std::size_t up);

 private:
  WorkerContext& ctx_;
  PinnedHost& pinned_;
  SessionHost& session_;
  std::uint64_t client_id_;
};

}  // namespace seawall::proxy
