// Session: introspection. Each session keeps a ClientRecord in the process-wide registry current
// (name, library, last command, and for a pinned connection the state Redis holds: db, MULTI,
// pub/sub, protocol), so that CLIENT INFO describes the application's own connection rather than
// seawall's shared one, and so that, with `introspection: {client_list: seawall, info: seawall}`,
// CLIENT LIST, CLIENT KILL and INFO are answered for seawall's clients across every thread.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "seawall/command/client_self.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;
using introspection::Protocol;

using util::iequals;

// The CLIENT subcommands about every client.
constexpr std::string_view kList = "list";
constexpr std::string_view kKill = "kill";

util::LogRateLimiter& kill_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 5);
  return limiter;
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  return introspection::format_address(endpoint.address().to_string(), endpoint.port());
}

}  // namespace

void Session::register_client() {
  error_code ec;
  const tcp::endpoint remote = socket_.remote_endpoint(ec);
  std::string addr = ec ? std::string("?:0") : endpoint_text(remote);
  const tcp::endpoint local = socket_.local_endpoint(ec);
  std::string laddr = ec ? std::string("?:0") : endpoint_text(local);
  // CLIENT KILL from any thread: the close runs on this session's own thread.
  auto kill = [weak = weak_from_this(), executor = socket_.get_executor()] {
    asio::post(executor, [weak] {
      if (const auto self = weak.lock()) {
        self->close();
      }
    });
  };
  record_ = std::make_shared<ClientRecord>(
      id_, ctx_.worker_index, std::move(addr), std::move(laddr),
      static_cast<int>(socket_.native_handle()), last_activity_, std::move(kill));
  ctx_.shared->registry.add(record_);
}

void Session::note_command(const command::CommandInfo* info,
                           std::span<const std::string_view> args) {
  // The full name, "client|list" for a subcommand; nullptr ("NULL" in the listing) when unknown.
  record_->note_command(command::resolve(info, args));
}

void Session::set_client_name(std::string_view name) {
  client_name_.assign(name);
  record_->set_name(name);
}

void Session::note_subscription_reply(std::string_view reply) {
  const std::optional<introspection::SubscriptionReply> parsed =
      introspection::parse_subscription_reply(reply);
  if (!parsed) {
    return;
  }
  // Redis reports channels + patterns together; each kind's own count is the rest.
  using Kind = introspection::SubscriptionReply::Kind;
  switch (parsed->kind) {
    case Kind::Channel:
      subscribed_channels_ = std::max<std::int64_t>(0, parsed->count - subscribed_patterns_);
      break;
    case Kind::Pattern:
      subscribed_patterns_ = std::max<std::int64_t>(0, parsed->count - subscribed_channels_);
      break;
    case Kind::Shard:
      subscribed_shard_channels_ = parsed->count;
      break;
  }
  record_->set_subscriptions(subscribed_channels_, subscribed_patterns_,
                             subscribed_shard_channels_);
}

void Session::note_reset() {
  // What RESET clears in Redis that the listing shows (the library info stays, as in Redis).
  stop_monitoring();
  set_client_name("");
  if (pinned_) {
    pinned_->state().forget_queued();
  }
  ClientRecord& r = *record_;
  r.set_flag(introspection::kFlagMulti | introspection::kFlagPubsub | introspection::kFlagMonitor |
                 introspection::kFlagTracking,
             false);
  r.set_db(0);
  r.set_multi(-1);
  subscribed_channels_ = subscribed_patterns_ = subscribed_shard_channels_ = 0;
  r.set_subscriptions(0, 0, 0);
  r.set_protocol(Protocol::Resp2);
  r.set_user("default");
}

void Session::note_authenticated_user(command::Command cmd,
                                      std::span<const std::string_view> args) {
  if (cmd.rule().state == command::State::Auth) {
    record_->set_user(args.size() == 3 ? args[1] : std::string_view("default"));
    return;
  }
  // HELLO protover AUTH user password ...
  for (std::size_t i = 2; i + 2 < args.size(); ++i) {
    if (iequals(args[i], command::kAuthOption)) {
      record_->set_user(args[i + 1]);
      return;
    }
  }
}

void Session::apply_link_change(const LinkChange& change) {
  if (change.protocol) {
    protocol_ = *change.protocol;
  }
  ClientRecord& r = *record_;
  r.set_flag(introspection::kFlagMulti, link_state().in_multi());
  r.set_multi(change.multi);
  if (change.db) {
    r.set_db(*change.db);
  }
  if (change.flags != 0) {
    r.set_flag(change.flags, true);
  }
  if (change.reset) {
    note_reset();
  } else if (change.protocol) {
    r.set_protocol(*change.protocol);
  }
  if (change.name) {
    set_client_name(*change.name);
  }
  if (change.setinfo) {
    client_setinfo(change.setinfo->first, change.setinfo->second);
  }
  if (change.tracking) {
    r.set_flag(introspection::kFlagTracking, *change.tracking);
  }
}

std::string Session::client_setinfo(std::string_view attribute, std::string_view value) {
  const bool lib_name = iequals(attribute, "lib-name");
  if (!lib_name && !iequals(attribute, "lib-ver")) {
    std::string reply(replies::kUnrecognizedOptionPrefix);
    return reply.append(attribute).append(replies::kQuoteEnd);
  }
  if (!introspection::valid_client_attribute(value)) {
    std::string reply("-ERR ");
    return reply.append(attribute).append(replies::kAttributeInvalidSuffix);
  }
  if (lib_name) {
    record_->set_lib_name(value);
  } else {
    record_->set_lib_ver(value);
  }
  return std::string(replies::kOk);
}

void Session::add_own_buffers(introspection::ClientView& view) const {
  // As in Redis while it runs a command: the buffer still holds that command.
  const std::size_t held = rend_ - rbegin_ + request_.consumed;
  view.qbuf = static_cast<std::int64_t>(held);
  view.qbuf_free = static_cast<std::int64_t>(rbuf_.size() > held ? rbuf_.size() - held : 0);
  std::size_t argv = 0;
  for (std::string_view arg : request_.args) {
    argv += arg.size();
  }
  view.argv_mem = static_cast<std::int64_t>(argv);
}

void Session::append_client_info(std::string& out) const {
  introspection::ClientView view = record_->view(std::chrono::steady_clock::now());
  add_own_buffers(view);
  std::string line;
  introspection::append_client_line(line, view);
  line += '\n';
  introspection::append_text_reply(out, line, record_->protocol());
}

bool Session::client_subcommand_reply(const command::CommandInfo* client,
                                      std::span<const std::string_view> args, std::string& reply) {
  using command::ClientSelf;
  switch (command::client_self(client, args)) {
    case ClientSelf::Id:
      if (args.size() != 2) {
        return false;
      }
      resp::append_integer(reply, static_cast<std::int64_t>(id_));
      return true;
    case ClientSelf::Info:
      if (args.size() != 2) {
        return false;
      }
      append_client_info(reply);
      return true;
    case ClientSelf::GetName:
      if (args.size() != 2) {
        return false;
      }
      if (client_name_.empty()) {
        reply = record_->protocol() == Protocol::Resp3 ? "_\r\n" : replies::kNullBulk;
      } else {
        resp::append_bulk(reply, client_name_);
      }
      return true;
    case ClientSelf::SetName:
      if (args.size() != 3) {
        return false;
      }
      if (introspection::valid_client_attribute(args[2])) {
        set_client_name(args[2]);
        reply = replies::kOk;
      } else {
        reply = replies::kClientNameInvalid;
      }
      return true;
    case ClientSelf::SetInfo:
      if (args.size() != 4) {
        return false;
      }
      reply = client_setinfo(args[2], args[3]);
      return true;
    default:
      return false;
  }
}

introspection::InfoData Session::info_data() const {
  const ProxyConfig& config = *ctx_.config;
  SharedState& shared = *ctx_.shared;
  const auto now = std::chrono::steady_clock::now();
  introspection::InfoData d;
  d.version = SEAWALL_VERSION;
  d.process_id = static_cast<std::int64_t>(::getpid());
  error_code ec;
  const tcp::endpoint local = socket_.local_endpoint(ec);
  d.tcp_port = ec ? config.listen.port : local.port();
  d.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now - shared.registry.started()).count();
  d.threads = config.threads;
  d.config_file = config.source_path;
  d.connected_clients = ctx_.clients->load(std::memory_order_relaxed);
  d.maxclients = config.limits.max_clients;
  d.pinned_clients = shared.pinned.load(std::memory_order_relaxed);
  d.max_pinned = config.limits.max_pinned;
  d.clients_per_thread = shared.registry.clients_per_worker(config.threads);
  d.total_connections_received = shared.registry.connections_received();
  d.total_commands_processed = shared.registry.total_commands();
  for (std::size_t i = 0; i < policy::kSourceCount; ++i) {
    const auto source = static_cast<policy::Source>(i);
    d.answers.emplace_back(policy::to_string(source), shared.fallback.counters().get(source));
  }
  for (std::size_t i = 0; i < shared.upstreams.size() && i < config.upstreams.size(); ++i) {
    const upstream::UpstreamConfig& u = config.upstreams[i];
    d.upstreams.push_back(introspection::InfoData::Upstream{
        u.name, introspection::format_address(u.host, u.port),
        breaker::to_string(shared.upstreams[i]->breaker().state(breaker::Clock::now()))});
  }
  return d;
}

bool Session::answered_by_seawall(command::Command cmd, std::span<const std::string_view> args) {
  const IntrospectionConfig& mode = ctx_.config->introspection;
  // Two comparisons for every other command: the rows are read only when a mode is on.
  const bool is_client = args.size() >= 2 && cmd.rule().local == command::Local::Client;
  // CLIENT LIST and CLIENT KILL ask about every client: seawall's registry answers them.
  const bool client_list =
      mode.client_list == AnsweredBy::Seawall && is_client &&
      (iequals(args[1], kList) || (iequals(args[1], kKill) && args.size() >= 3));
  const bool info = mode.info == InfoMode::Seawall && cmd.rule().seawall == command::Seawall::Info;
  // While pinned, the per-client subcommands would be Redis's for the dedicated connection
  // (another id than CLIENT LIST shows); seawall answers them too, so ids and names agree.
  const bool per_client =
      mode.client_list == AnsweredBy::Seawall && pinned() && !client_list && is_client;
  if (!client_list && !info && !per_client) {
    return false;
  }
  if (pinned() && link_state().in_multi()) {
    return false;  // Redis queues it for EXEC and answers it there
  }
  std::string reply;
  if (per_client && !client_subcommand_reply(cmd.info, args, reply)) {
    return false;
  }
  ctx_.shared->count_command(cmd.info);
  ClientRegistry& registry = ctx_.shared->registry;
  const auto now = std::chrono::steady_clock::now();
  const Protocol protocol = record_->protocol();
  bool kill_self = false;
  if (info) {
    const introspection::InfoSections sections =
        introspection::parse_info_sections(args.subspan(1));
    introspection::append_text_reply(reply, introspection::render_info(info_data(), sections),
                                     protocol);
  } else if (client_list && iequals(args[1], kList)) {
    const auto parsed = introspection::parse_client_list(args);
    if (!parsed.ok()) {
      reply = parsed.error;
    } else {
      auto clients =
          parsed.value.by_id ? registry.list_ids(parsed.value.ids, now) : registry.list(now);
      std::string text;
      for (introspection::ClientView& client : clients) {
        if (client.id == id_) {
          add_own_buffers(client);
        }
        if (parsed.value.matches(client)) {
          introspection::append_client_line(text, client);
          text += '\n';
        }
      }
      introspection::append_text_reply(reply, text, protocol);
    }
  } else if (client_list) {
    const auto& users = ctx_.config->auth.users;
    const auto parsed = introspection::parse_client_kill(args, [&users](std::string_view user) {
      // Redis always has the user "default"; seawall's own users are those of `auth`.
      return user == "default" || std::any_of(users.begin(), users.end(),
                                              [user](const auto& u) { return u.name == user; });
    });
    if (!parsed.ok()) {
      reply = parsed.error;
    } else {
      const ClientRegistry::KillResult result = registry.kill(parsed.value, id_, now);
      reply = introspection::kill_reply(parsed.value, result.killed);
      kill_self = result.self;
      std::uint64_t suppressed = 0;
      if (result.killed > 0 && kill_log_limiter().allow(suppressed)) {
        util::logger("proxy")->info("client={} CLIENT KILL closed {} client(s) (suppressed={})",
                                    id_, result.killed, suppressed);
      }
    }
  }
  answer_locally(reply);
  if (kill_self) {
    // As Redis does: this client gets its reply, then is closed; nothing after it is read.
    read_done_ = true;
  }
  return true;
}

}  // namespace seawall::proxy
