#pragma once
// The connection state a pinned session holds on its dedicated upstream connection, followed
// from the commands it relays there (each command's row of command_rules.hpp says what it starts
// or ends): a transaction, WATCH, a database other than 0, and state that only ends with the
// connection (pub/sub, MONITOR, AUTH, HELLO, a replication stream, CLIENT TRACKING ...).
// One tracker feeds both the session (when its pin may end, QUIT, the protocol) and its CLIENT
// INFO record (db, multi, flags, name): relayed() returns what changed for both.
//
// Sans-I/O: no socket, no record; the session applies the LinkChange.
// Ownership: a member of the session. Thread safety: the session's thread.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/resp3.hpp"

namespace seawall::proxy {

// What a relayed command changed. Views point into the command's arguments.
struct LinkChange {
  bool stop_reading = false;               // QUIT: the connection ends after its reply
  bool reset = false;                      // RESET: every listed state back to a new client's
  std::optional<resp::Protocol> protocol;  // HELLO 2|3, RESET
  std::int64_t multi = -1;                 // commands queued since MULTI, -1 outside one
  std::optional<std::int64_t> db;          // SELECT n
  std::uint32_t flags = 0;                 // introspection flags it sets (pubsub, monitor, ...)
  std::optional<bool> tracking;            // CLIENT TRACKING on|off
  std::optional<std::string_view> name;    // HELLO ... SETNAME, CLIENT SETNAME
  std::optional<std::pair<std::string_view, std::string_view>> setinfo;  // CLIENT SETINFO
};

class LinkState {
 public:
  // A new dedicated connection: it holds nothing yet.
  void opened() { in_multi_ = watching_ = db_nonzero_ = sticky_ = false; }
  // A deferred MULTI (answered by seawall) was sent on the connection.
  void multi_sent() { in_multi_ = true; }
  // The session stays on the connection until it ends (a reply stream it cannot follow).
  void stick() { sticky_ = true; }
  // RESET on a shared connection: the record's count of queued commands starts again.
  void forget_queued() { queued_in_multi_ = 0; }

  // `cmd` was relayed with `args`; `client_pins`: a CLIENT subcommand that pins (TRACKING ...).
  LinkChange relayed(command::Command cmd, std::span<const std::string_view> args,
                     bool client_pins);

  bool in_multi() const { return in_multi_; }
  bool watching() const { return watching_; }
  bool db_nonzero() const { return db_nonzero_; }
  // State that only ends with the connection.
  bool sticky() const { return sticky_; }
  bool quit_relayed() const { return quit_relayed_; }
  // Anything that keeps the session on its dedicated connection.
  bool holds_state() const { return sticky_ || in_multi_ || watching_ || db_nonzero_; }

 private:
  bool in_multi_ = false;
  bool watching_ = false;
  bool db_nonzero_ = false;
  bool sticky_ = false;
  bool quit_relayed_ = false;  // Redis owes the QUIT's reply, then closes the connection
  std::int64_t queued_in_multi_ = 0;
};

}  // namespace seawall::proxy
