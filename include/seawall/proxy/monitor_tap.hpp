#pragma once
// MONITOR for one session, which asks Redis nothing: seawall shows its clients' commands itself
// (MonitorHub). feed() shows every command of a session that Redis would show, with its client's
// address and db; after MONITOR, a MonitorTap watches the hub and writes its lines to the client
// until RESET or the end of the session.
//
// Ownership: allocated by its session at its first MONITOR (an idle session holds none) and kept
// until the session ends: a line posted before stop() may still arrive. The hub holds it weakly
// through the session's own control block, so a line finds both alive or neither.
// Thread safety: the session's worker thread (the hub posts lines there).
// Invariants: in the hub, and the record flagged O, exactly while monitoring. The session's
// ClientRecord is its key in the hub, for feed() and the watcher alike, so a MONITOR client does
// not see its own commands.
#include <memory>
#include <span>
#include <string_view>

#include "seawall/command/command_table.hpp"
#include "seawall/proxy/client_presence.hpp"
#include "seawall/proxy/client_registry.hpp"
#include "seawall/proxy/monitor_hub.hpp"

namespace seawall::proxy {

class MonitorTap final : public MonitorSink {
 public:
  MonitorTap(SessionHost& host, MonitorHub& hub, ClientRecord& record)
      : host_(host), hub_(hub), record_(record) {}

  // Shows a command of the session whose record is `record` to the hub's watchers.
  static void feed(MonitorHub& hub, const ClientRecord& record, const command::CommandInfo* info,
                   std::span<const std::string_view> args);

  // MONITOR: watches the hub (`owner`: the session, which keeps this alive) and answers +OK.
  void start(const std::shared_ptr<const void>& owner);
  void stop();

  // MonitorSink
  void on_monitor_line(std::string_view line) override;

 private:
  SessionHost& host_;
  MonitorHub& hub_;
  ClientRecord& record_;
  bool monitoring_ = false;
};

}  // namespace seawall::proxy
