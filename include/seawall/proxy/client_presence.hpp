#pragma once
// One client session as CLIENT INFO / CLIENT LIST, INFO and CLIENT KILL see it. Each session
// keeps a ClientRecord in the process-wide registry current (name, library, last command, and for
// a pinned connection the state Redis holds: db, MULTI, pub/sub, protocol), so that CLIENT INFO
// describes the application's own connection rather than seawall's shared one, and so that, with
// `introspection: {client_list: seawall, info: seawall}`, CLIENT LIST, CLIENT KILL and INFO are
// answered for seawall's clients across every thread.
//
// What only the session knows (its socket, read buffer and current command, whether it is
// pinned, how it replies and closes) is reached through SessionHost, which Session implements;
// UpstreamAsks and MonitorTap reach their session the same way.
//
// Ownership: a member of its Session, holding references to it and to the worker's context (both
// outlive it). The record is shared with the registry from register_client() to unregister().
// Thread safety: the session's worker thread; other threads only see the record (ClientRecord's
// getters) and kill it through the registry, which posts the close to this thread.
// Invariants: record() is valid from register_client() on (Session::start, before any command);
// the subscription counts are what Redis last confirmed, never negative.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/client_registry.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/proxy/link_state.hpp"
#include "seawall/proxy/worker_context.hpp"

namespace seawall::proxy {

// What ClientPresence, UpstreamAsks and MonitorTap reach of the session they serve: one
// interface, so the session pays one vtable pointer for the three.
// Ownership: implemented by Session, which owns (or, for UpstreamAsks, outlives) every object
// that calls it. Thread safety: the session's thread.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The client's socket: its addresses, descriptor and executor.
  virtual tcp::socket& client_socket() = 0;
  // Fills what only the session's thread knows: its read buffer and current command.
  virtual void add_own_buffers(introspection::ClientView& view) const = 0;
  // A reply seawall computes, in order with the replies already on their way.
  virtual void answer_locally(std::string_view bytes) = 0;
  // Bytes outside request order (MONITOR's lines), subject to the client's output limit.
  virtual void push_output(std::string_view bytes) = 0;
  // CLIENT KILL of this very client: nothing after the command is read; its reply still goes.
  virtual void stop_reading() = 0;
  // Close now; in-flight replies are discarded.
  virtual void close() = 0;
  virtual bool closed() const = 0;
  // On a dedicated connection (pinned mode).
  virtual bool pinned() const = 0;
  // Pinned and inside MULTI there: Redis queues every command for EXEC.
  virtual bool pinned_in_multi() const = 0;
  // MULTI answered by seawall, not pinned yet.
  virtual bool multi_deferred() const = 0;
};

class ClientPresence {
 public:
  ClientPresence(SessionHost& host, WorkerContext& ctx) : host_(host), ctx_(ctx) {}
  ClientPresence(const ClientPresence&) = delete;
  ClientPresence& operator=(const ClientPresence&) = delete;

  // Adds the session's record to the registry; `self` is what CLIENT KILL from any thread closes.
  void register_client(std::uint64_t id, std::weak_ptr<SessionHost> self,
                       std::chrono::steady_clock::time_point created);
  bool registered() const { return registered_; }
  void unregister();
  ClientRecord& record() { return *record_; }
  const ClientRecord& record() const { return *record_; }

  // `info`: command::lookup(args[0]).
  void note_command(const command::CommandInfo* info, std::span<const std::string_view> args);
  void set_client_name(std::string_view name);
  // A reply relayed from a dedicated connection: updates sub/psub/ssub if it confirms a
  // (un)subscription.
  void note_subscription_reply(std::string_view reply);
  // Subscribed to anything, as Redis last confirmed.
  bool subscribed() const {
    return subscribed_channels_ + subscribed_patterns_ + subscribed_shard_channels_ > 0;
  }
  // What RESET clears in the record (the session clears the rest: MONITOR, queued count).
  void note_reset();
  // The user a successful AUTH or HELLO ... AUTH (checked by seawall) authenticated as.
  void note_authenticated_user(command::Command cmd, std::span<const std::string_view> args);
  // The user an AUTH or HELLO ... AUTH authenticates as if it succeeds (`AUTH password`:
  // default); nullopt for any other command.
  static std::optional<std::string_view> authenticating_user(
      command::Command cmd, std::span<const std::string_view> args);
  // Applies what a relayed command changed (LinkState) to the record (db, MULTI, pub/sub, ...);
  // the session applies its protocol and its part of a RESET itself.
  void apply_link_change(const LinkChange& change);
  std::string client_setinfo(std::string_view attribute, std::string_view value);
  void append_client_info(std::string& out) const;
  // CLIENT ID/INFO/GETNAME/SETNAME/SETINFO (args.size() >= 2), answered for this client and
  // appended to `reply`; false for any other subcommand. Shared sessions always answer these
  // here; pinned ones with client_list: seawall.
  bool client_subcommand_reply(const command::CommandInfo* client,
                               std::span<const std::string_view> args, std::string& reply);
  // CLIENT LIST / CLIENT KILL / INFO when the config has seawall answer them; true when answered.
  // A CLIENT KILL USER filter names an existing user when it is `default`, one of seawall's
  // `auth.users`, a user a current client authenticated as, or one of `redis_users` (those
  // kill_users_to_ask returned that Redis confirmed).
  bool answered_by_seawall(command::Command cmd, std::span<const std::string_view> args,
                           std::span<const std::string> redis_users = {});
  // The users of a CLIENT KILL's USER filters (before any other error in it) that seawall does
  // not know, to ask Redis about (UpstreamAsks::users_redis_knows) before answered_by_seawall;
  // empty for any other command, and without an allocation.
  std::vector<std::string> kill_users_to_ask(command::Command cmd,
                                             std::span<const std::string_view> args) const;
  introspection::InfoData info_data() const;

 private:
  // CLIENT LIST or CLIENT KILL, answered by seawall (client_list: seawall).
  bool asks_every_client(command::Command cmd, std::span<const std::string_view> args) const;
  // Known without asking Redis: default, seawall's own users, a current client's.
  bool user_known(std::string_view user) const;

  SessionHost& host_;
  WorkerContext& ctx_;
  std::shared_ptr<ClientRecord> record_;  // in ctx_.shared->registry from start() to close()
  std::string client_name_;
  // Subscriptions as Redis last confirmed them (CLIENT INFO/LIST sub, psub, ssub).
  std::int64_t subscribed_channels_ = 0;
  std::int64_t subscribed_patterns_ = 0;
  std::int64_t subscribed_shard_channels_ = 0;
  bool registered_ = false;
};

}  // namespace seawall::proxy
