// Session: what pinned mode does with some replies and commands it relays (note_swallowed_reply,
// redirect_translated, select_deferred), until they move out with the rest of pinned mode. The
// asks that were here are UpstreamAsks (upstream_asks.cpp); MONITOR is MonitorTap
// (monitor_tap.cpp).
#include <charconv>
#include <memory>

#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {

void Session::note_swallowed_reply(std::string_view reply) {
  if (!link_id_wanted_) {
    if (select_wanted_) {
      select_wanted_ = false;
      if (!reply.empty() && reply[0] == '-') {
        // What the client relayed after it ran in another database: the client must know.
        util::logger("proxy")->info("client={} SELECT refused by Redis once it was back: closing",
                                    id_);
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
      }
    }
    return;
  }
  link_id_wanted_ = false;
  if (reply.size() > 3 && reply[0] == ':') {
    std::uint64_t id = 0;
    const auto [end, ec] = std::from_chars(reply.data() + 1, reply.data() + reply.size() - 2, id);
    if (ec == std::errc()) {
      presence_.record().set_upstream_id(id);
    }
  }
}

bool Session::redirect_translated(const command::CommandInfo* info,
                                  std::span<const std::string_view> args) {
  if (info == nullptr || info->subcommands.empty()) {
    return false;
  }
  const command::CommandInfo* sub = command::resolve(info, args);
  if (sub == nullptr || command::rules(*sub).seawall != command::Seawall::Tracking) {
    return false;
  }
  for (std::size_t i = 3; i + 1 < args.size(); ++i) {
    if (!util::iequals(args[i], "redirect")) {
      continue;
    }
    std::uint64_t target = 0;
    const std::string_view id = args[i + 1];
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), target);
    // An id seawall never gave out goes to Redis as it is (Redis refuses one it does not know).
    const std::uint64_t upstream = ec == std::errc() && end == id.data() + id.size()
                                       ? ctx_.shared->registry.upstream_id_of(target)
                                       : 0;
    if (upstream == 0) {
      return false;
    }
    const std::string upstream_text = std::to_string(upstream);
    std::vector<std::string_view> rewritten(args.begin(), args.end());
    rewritten[i + 1] = upstream_text;
    scratch_.clear();
    resp::append_command(scratch_, rewritten);
    return true;
  }
  return false;
}

bool Session::select_deferred(const command::CommandInfo* info,
                              std::span<const std::string_view> args) {
  if (info == nullptr || args.size() != 2 || multi_deferred_ || link_) {
    return false;
  }
  const command::CommandInfo* resolved = command::resolve(info, args);
  std::int64_t db = -1;
  const auto [end, ec] = std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
  if (resolved == nullptr || command::rules(*resolved).seawall != command::Seawall::Select ||
      ec != std::errc() || end != args[1].data() + args[1].size() || db < 0) {
    return false;
  }
  pending_select_.clear();
  if (db != 0) {
    resp::append_command(pending_select_, args);
  }
  presence_.record().set_db(db);
  reply_now(resp::replies::kOk);
  return true;
}

}  // namespace seawall::proxy
