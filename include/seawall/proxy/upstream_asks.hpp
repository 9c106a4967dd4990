#pragma once
// Commands seawall asks Redis itself, on a shared connection, and completes with what it knows
// (command::Seawall rows):
// - INFO with `introspection.info: merged` (the default). Redis's INFO is what client libraries
//   read (redis_version, role, keyspace ...), but its clients are seawall's shared connections:
//   Redis's sections come back with seawall's client count and a `# Seawall` section, or
//   seawall's sections alone when Redis cannot answer, so INFO works through an outage too.
// - CLIENT PAUSE / UNPAUSE. Redis holds seawall's shared connections for the pause; once it
//   confirmed one, every connection to that upstream lets its requests wait the pause out
//   (UpstreamState::note_pause) instead of timing out and tripping the breaker.
// - ACL GETUSER, for a CLIENT KILL USER naming a user seawall has not seen (no client of seawall
//   authenticated as it): without `auth:`, clients authenticate as Redis's own ACL users, and
//   Redis says whether the user exists, as it does direct.
// The reader waits for Redis's answer, so it keeps its place among the replies.
//
// Ownership: a view over one session, made by its reader where it needs one; it holds nothing
// between commands, so an idle session pays nothing for it. The reader keeps the session (and
// so the host, context and presence referenced here) alive while ask() runs.
// Thread safety: the session's worker thread.
// Invariants: asks nothing of Redis for a command queued for EXEC; answers each ask exactly once,
// in its place, unless the session closed while it waited.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/client_presence.hpp"
#include "seawall/proxy/worker_context.hpp"

namespace seawall::proxy {

class UpstreamAsks {
 public:
  UpstreamAsks(SessionHost& host, WorkerContext& ctx, const ClientPresence& presence)
      : host_(host), ctx_(ctx), presence_(presence) {}

  // What this request asks (MONITOR included, which asks Redis nothing: MonitorTap). None when
  // it is not one, or is queued for EXEC, or is INFO from a RESP2 subscriber (Redis refuses it).
  command::Seawall asked(const command::CommandInfo* info,
                         std::span<const std::string_view> args) const;
  // Asks Redis outside the breaker's count and answers: INFO's sections merged with seawall's
  // (seawall's alone when Redis cannot answer); PAUSE/UNPAUSE as Redis did, noting the pause
  // for the upstream's connections. Reading waits for it, so the answer keeps its place.
  awaitable<void> ask(command::Seawall what, const command::CommandInfo* info,
                      std::span<const std::string_view> args) const;
  // Of `users` (ClientPresence::kill_users_to_ask), the leading ones Redis has (ACL GETUSER on a
  // shared connection of the default upstream, outside the breaker's count), up to the first it
  // does not have or cannot answer about (unavailable, no reply within request_timeout, an
  // error such as NOPERM): CLIENT KILL answers that one's -ERR No such user.
  awaitable<std::vector<std::string>> users_redis_knows(std::vector<std::string> users) const;

 private:
  SessionHost& host_;
  WorkerContext& ctx_;
  const ClientPresence& presence_;
};

}  // namespace seawall::proxy
