#include "seawall/proxy/client_presence.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "seawall/command/client_self.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/proxy/introspection.hpp"
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
// The user every Redis has, and every client is until it authenticates.
constexpr std::string_view kDefaultUser = "default";

util::LogRateLimiter& kill_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 5);
  return limiter;
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  return introspection::format_address(endpoint.address().to_string(), endpoint.port());
}

}  // namespace

void ClientPresence::register_client(std::uint64_t id, std::weak_ptr<SessionHost> self,
                                     std::chrono::steady_clock::time_point created) {
  tcp::socket& socket = host_.client_socket();
  error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  std::string addr = ec ? std::string("?:0") : endpoint_text(remote);
  const tcp::endpoint local = socket.local_endpoint(ec);
  std::string laddr = ec ? std::string("?:0") : endpoint_text(local);
  // CLIENT KILL from any thread: the close runs on this session's own thread.
  auto kill = [weak = std::move(self), executor = socket.get_executor()] {
    asio::post(executor, [weak] {
      if (const auto session = weak.lock()) {
        session->close();
      }
    });
  };
  registered_ = true;
  record_ = std::make_shared<ClientRecord>(id, ctx_.worker_index, std::move(addr), std::move(laddr),
                                           static_cast<int>(socket.native_handle()), created,
                                           std::move(kill));
  ctx_.shared->registry.add(record_);
}

void ClientPresence::unregister() {
  registered_ = false;
  ctx_.shared->registry.remove(*record_);
}

void ClientPresence::note_command(const command::CommandInfo* info,
                                  std::span<const std::string_view> args) {
  // The full name, "client|list" for a subcommand; nullptr ("NULL" in the listing) when unknown.
  record_->note_command(command::resolve(info, args));
}

void ClientPresence::set_client_name(std::string_view name) {
  client_name_.assign(name);
  record_->set_name(name);
}

void ClientPresence::note_subscription_reply(std::string_view reply) {
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

void ClientPresence::note_reset() {
  // What RESET clears in Redis that the listing shows (the library info stays, as in Redis).
  set_client_name("");
  ClientRecord& r = *record_;
  r.set_flag(introspection::kFlagMulti | introspection::kFlagPubsub | introspection::kFlagMonitor |
                 introspection::kFlagTracking,
             false);
  r.set_db(0);
  r.set_multi(-1);
  subscribed_channels_ = subscribed_patterns_ = subscribed_shard_channels_ = 0;
  r.set_subscriptions(0, 0, 0);
  r.set_protocol(Protocol::Resp2);
  r.set_user(kDefaultUser);
}

void ClientPresence::note_authenticated_user(command::Command cmd,
                                             std::span<const std::string_view> args) {
  if (const auto user = authenticating_user(cmd, args)) {
    record_->set_user(*user);
  }
}

std::optional<std::string_view> ClientPresence::authenticating_user(
    command::Command cmd, std::span<const std::string_view> args) {
  if (cmd.info == nullptr) {
    return std::nullopt;
  }
  if (cmd.rule().state == command::State::Auth) {
    return args.size() == 3 ? args[1] : std::string_view(kDefaultUser);
  }
  if (cmd.rule().local != command::Local::Hello) {
    return std::nullopt;
  }
  // HELLO protover AUTH user password ...
  for (std::size_t i = 2; i + 2 < args.size(); ++i) {
    if (iequals(args[i], command::kAuthOption)) {
      return args[i + 1];
    }
  }
  return std::nullopt;
}

bool ClientPresence::user_known(std::string_view user) const {
  // Redis always has the user "default"; seawall's own users are those of `auth`; a user a
  // current client authenticated as exists (Redis or seawall accepted its credentials).
  const auto& users = ctx_.config->auth.users;
  return user == kDefaultUser ||
         std::any_of(users.begin(), users.end(),
                     [user](const auto& u) { return u.name == user; }) ||
         ctx_.shared->registry.has_user(user);
}

bool ClientPresence::asks_every_client(command::Command cmd,
                                       std::span<const std::string_view> args) const {
  return ctx_.config->introspection.client_list == AnsweredBy::Seawall && args.size() >= 2 &&
         cmd.rule().local == command::Local::Client &&
         (iequals(args[1], kList) || (iequals(args[1], kKill) && args.size() >= 3));
}

std::vector<std::string> ClientPresence::kill_users_to_ask(
    command::Command cmd, std::span<const std::string_view> args) const {
  std::vector<std::string> unknown;
  // The new form only (CLIENT KILL <filter> <value> ...), answered here, outside a transaction.
  if (args.size() < 4 || !asks_every_client(cmd, args) || !iequals(args[1], kKill) ||
      host_.pinned_in_multi()) {
    return unknown;
  }
  // Parsed as answered_by_seawall will (it stops at the first error): the users it will check.
  introspection::parse_client_kill(args, [&](std::string_view user) {
    if (!user_known(user)) {
      unknown.emplace_back(user);
    }
    return true;
  });
  return unknown;
}

void ClientPresence::apply_link_change(const LinkChange& change) {
  ClientRecord& r = *record_;
  r.set_flag(introspection::kFlagMulti, host_.pinned_in_multi());
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

std::string ClientPresence::client_setinfo(std::string_view attribute, std::string_view value) {
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

void ClientPresence::append_client_info(std::string& out) const {
  introspection::ClientView view = record_->view(std::chrono::steady_clock::now());
  host_.add_own_buffers(view);
  std::string line;
  introspection::append_client_line(line, view);
  line += '\n';
  introspection::append_text_reply(out, line, record_->protocol());
}

bool ClientPresence::client_subcommand_reply(const command::CommandInfo* client,
                                             std::span<const std::string_view> args,
                                             std::string& reply) {
  using command::ClientSelf;
  switch (command::client_self(client, args)) {
    case ClientSelf::Id:
      if (args.size() != 2) {
        return false;
      }
      resp::append_integer(reply, static_cast<std::int64_t>(record_->id()));
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

introspection::InfoData ClientPresence::info_data() const {
  const ProxyConfig& config = *ctx_.config;
  SharedState& shared = *ctx_.shared;
  const auto now = std::chrono::steady_clock::now();
  introspection::InfoData d;
  d.version = SEAWALL_VERSION;
  d.process_id = static_cast<std::int64_t>(::getpid());
  error_code ec;
  const tcp::endpoint local = host_.client_socket().local_endpoint(ec);
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
    std::string address = introspection::format_address(u.host, u.port);
    if (u.sentinel.enabled()) {
      // The master the sentinels named ("" while unknown or during a failover).
      const auto master = shared.upstreams[i]->resolver()->current();
      address = master ? introspection::format_address(master->host, master->port) : "";
    }
    d.upstreams.push_back(introspection::InfoData::Upstream{
        u.name, std::move(address),
        breaker::to_string(shared.upstreams[i]->breaker().state(breaker::Clock::now()))});
  }
  return d;
}

bool ClientPresence::answered_by_seawall(command::Command cmd,
                                         std::span<const std::string_view> args,
                                         std::span<const std::string> redis_users) {
  const IntrospectionConfig& mode = ctx_.config->introspection;
  // Two comparisons for every other command: the rows are read only when a mode is on.
  const bool is_client = args.size() >= 2 && cmd.rule().local == command::Local::Client;
  // CLIENT LIST and CLIENT KILL ask about every client: seawall's registry answers them.
  const bool client_list = asks_every_client(cmd, args);
  const bool info = mode.info == InfoMode::Seawall && cmd.rule().seawall == command::Seawall::Info;
  // While pinned, the per-client subcommands would be Redis's for the dedicated connection
  // (another id than CLIENT LIST shows); seawall answers them too, so ids and names agree.
  const bool per_client =
      mode.client_list == AnsweredBy::Seawall && host_.pinned() && !client_list && is_client;
  if (!client_list && !info && !per_client) {
    return false;
  }
  if (host_.pinned_in_multi()) {
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
  const std::uint64_t id = record_->id();
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
        if (client.id == id) {
          host_.add_own_buffers(client);
        }
        if (parsed.value.matches(client)) {
          introspection::append_client_line(text, client);
          text += '\n';
        }
      }
      introspection::append_text_reply(reply, text, protocol);
    }
  } else if (client_list) {
    const auto parsed = introspection::parse_client_kill(args, [&](std::string_view user) {
      return user_known(user) ||
             std::find(redis_users.begin(), redis_users.end(), user) != redis_users.end();
    });
    if (!parsed.ok()) {
      reply = parsed.error;
    } else {
      const ClientRegistry::KillResult result = registry.kill(parsed.value, id, now);
      reply = introspection::kill_reply(parsed.value, result.killed);
      kill_self = result.self;
      std::uint64_t suppressed = 0;
      if (result.killed > 0 && kill_log_limiter().allow(suppressed)) {
        util::logger("proxy")->info("client={} CLIENT KILL closed {} client(s) (suppressed={})", id,
                                    result.killed, suppressed);
      }
    }
  }
  host_.answer_locally(reply);
  if (kill_self) {
    // As Redis does: this client gets its reply, then is closed; nothing after it is read.
    host_.stop_reading();
  }
  return true;
}

}  // namespace seawall::proxy
