#include "seawall/proxy/link_state.hpp"

#include <charconv>

#include "seawall/command/client_self.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::proxy {
namespace {

using util::iequals;

std::optional<std::int64_t> database(std::string_view arg) {
  std::int64_t db = 0;
  const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), db);
  if (ec == std::errc() && end == arg.data() + arg.size() && db >= 0) {
    return db;
  }
  return std::nullopt;
}

// HELLO 2|3's protocol, if it names one.
std::optional<resp::Protocol> hello_protocol(std::span<const std::string_view> args) {
  if (args.size() > 1 && (args[1] == "2" || args[1] == "3")) {
    return args[1] == "3" ? resp::Protocol::Resp3 : resp::Protocol::Resp2;
  }
  return std::nullopt;
}

// The CLIENT LIST flag of state that only ends with the connection.
std::uint32_t listed_flag(command::State state) {
  switch (state) {
    case command::State::Subscribe:
      return introspection::kFlagPubsub;
    case command::State::Monitor:
      return introspection::kFlagMonitor;
    case command::State::Replica:
      return introspection::kFlagReplica;
    default:
      return 0;  // AUTH: not listed as a flag
  }
}

void client_change(const command::CommandInfo* client, std::span<const std::string_view> args,
                   LinkChange& change) {
  // Redis answers these on the dedicated connection; the listing follows what it accepts.
  switch (command::client_self(client, args)) {
    case command::ClientSelf::SetName:
      if (args.size() == 3 && introspection::valid_client_attribute(args[2])) {
        change.name = args[2];
      }
      break;
    case command::ClientSelf::SetInfo:
      if (args.size() == 4) {
        change.setinfo.emplace(args[2], args[3]);
      }
      break;
    case command::ClientSelf::Tracking:
      change.tracking = iequals(args[2], "on");
      break;
    default:
      break;
  }
}

}  // namespace

LinkChange LinkState::relayed(command::Command cmd, std::span<const std::string_view> args,
                              bool client_pins) {
  using command::State;
  LinkChange change;
  const State state = cmd.rule().state;
  // The connection's state, as Redis now holds it.
  switch (state) {
    case State::Multi:
      in_multi_ = true;
      break;
    case State::EndsMulti:
      in_multi_ = false;
      watching_ = false;
      break;
    case State::Watch:
      watching_ = true;
      break;
    case State::Unwatch:
      if (!in_multi_) {
        watching_ = false;
      }
      break;
    case State::Select:
      if (args.size() == 2) {
        db_nonzero_ = args[1] != "0";
        change.db = database(args[1]);
      }
      break;
    case State::Reset:
      in_multi_ = watching_ = db_nonzero_ = sticky_ = false;
      change.reset = true;
      change.protocol = resp::Protocol::Resp2;
      break;
    case State::Quit:
      quit_relayed_ = true;
      change.stop_reading = true;
      break;
    case State::Hello:
      if (args.size() > 1) {
        sticky_ = true;
        change.protocol = hello_protocol(args);
        for (std::size_t i = 2; i + 1 < args.size(); ++i) {
          if (iequals(args[i], command::kSetnameOption) &&
              introspection::valid_client_attribute(args[i + 1])) {
            change.name = args[i + 1];
          }
        }
      }
      break;
    case State::Subscribe:
    case State::Monitor:
    case State::Replica:
    case State::Auth:
      sticky_ = true;
      change.flags |= listed_flag(state);
      break;
    case State::Client:
      sticky_ = sticky_ || client_pins;
      if (args.size() >= 3) {
        client_change(cmd.info, args, change);
      }
      break;
    case State::None:
      break;
  }
  // The record's count of queued commands, after the state above.
  if (state == State::Multi) {
    queued_in_multi_ = 0;
  } else if (in_multi_) {
    ++queued_in_multi_;
  }
  change.multi = in_multi_ ? queued_in_multi_ : -1;
  return change;
}

}  // namespace seawall::proxy
