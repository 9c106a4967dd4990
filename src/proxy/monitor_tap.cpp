#include "seawall/proxy/monitor_tap.hpp"

#include <charconv>
#include <chrono>

#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/resp/replies.hpp"

namespace seawall::proxy {

void MonitorTap::start(const std::shared_ptr<const void>& owner) {
  if (!monitoring_) {
    monitoring_ = true;
    record_.set_flag(introspection::kFlagMonitor, true);
    hub_.add(&record_, std::weak_ptr<MonitorSink>(std::shared_ptr<MonitorSink>(owner, this)),
             host_.client_socket().get_executor());
  }
  host_.answer_locally(resp::replies::kOk);
}

void MonitorTap::stop() {
  if (monitoring_) {
    monitoring_ = false;
    record_.set_flag(introspection::kFlagMonitor, false);
    hub_.remove(&record_);
  }
}

void MonitorTap::feed(MonitorHub& hub, const ClientRecord& record, const command::CommandInfo* info,
                      std::span<const std::string_view> args) {
  // As Redis: commands it would refuse before running them (unknown, wrong arity) are not shown.
  if (!hub.watched() || info == nullptr || !command::arity_ok(*info, args.size())) {
    return;
  }
  const command::CommandInfo* resolved = command::resolve(info, args);
  if (!monitor_shows(*info) || (resolved != nullptr && !monitor_shows(*resolved))) {
    return;
  }
  const introspection::ClientView view = record.view(std::chrono::steady_clock::now());
  std::int64_t db = view.db;
  if (command::rules(*info).seawall == command::Seawall::Select && args.size() == 2) {
    // Redis shows a command once it ran: SELECT in the database it selected.
    std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
  }
  hub.publish(&record, format_monitor_line(std::chrono::system_clock::now(), db, view.addr, args));
}

void MonitorTap::on_monitor_line(std::string_view line) {
  if (!monitoring_) {
    return;
  }
  host_.push_output(line);
}

}  // namespace seawall::proxy
