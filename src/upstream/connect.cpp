#include "seawall/upstream/connect.hpp"

#include <openssl/crypto.h>

#include <array>
#include <vector>

#include "seawall/command/sent.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/upstream/master_resolver.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

// Redis's replies to AUTH and PING are a few dozen bytes; a longer line is not Redis.
constexpr std::size_t kMaxLineReply = 1024;

// Under TLS, an I/O error may come with OpenSSL's reason ("tlsv13 alert certificate required").
std::string describe_io_error(Stream& stream, const error_code& ec) {
  if (Stream::TlsStream* tls = stream.tls()) {
    return TlsContext::describe_failure(*tls, ec);
  }
  return ec.message();
}

std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return text + ":" + std::to_string(endpoint.port());
}

// Sends `command` and reads its one-line reply into `line` (type byte included, CRLF not).
// Returns "" when a simple string or error line came back, else why not.
awaitable<std::string> exchange(Stream& stream, asio::steady_timer& deadline,
                                std::string_view command, std::string_view name,
                                const std::string& where, std::string& line) {
  const std::string what(name);
  auto written =
      co_await (stream.async_write(asio::buffer(command)) || deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    co_return "timed out sending " + what + " to " + where;
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    co_return "cannot send " + what + " to " + where + ": " + describe_io_error(stream, ec);
  }
  std::array<char, 256> chunk{};
  std::string received;
  while (true) {
    auto read =
        co_await (stream.async_read_some(asio::buffer(chunk)) || deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      co_return "timed out waiting for the reply to " + what + " from " + where;
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return "no reply to " + what + " from " + where + ": " + describe_io_error(stream, ec);
    }
    received.append(chunk.data(), n);
    const LineReply reply = parse_line_reply(received);
    if (reply.status == LineStatus::NeedMore) {
      continue;
    }
    // Nothing else was asked, so nothing else may follow.
    if (reply.status == LineStatus::Unexpected || reply.length != received.size()) {
      co_return "unexpected reply to " + what + " from " + where;
    }
    line = received.substr(0, reply.length - 2);
    co_return "";
  }
}

// Sends HELLO and reads its whole reply (a map or an array, not one line). Returns "" when it
// succeeded; `version` gets the server's version from the reply.
awaitable<std::string> hello(Stream& stream, asio::steady_timer& deadline, Protocol protocol,
                             const std::string& where, std::string& version) {
  const std::string_view command =
      protocol == Protocol::Resp3 ? command::sent::kHello3Request : command::sent::kHello2Request;
  auto written =
      co_await (stream.async_write(asio::buffer(command)) || deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    co_return "timed out sending HELLO to " + where;
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    co_return "cannot send HELLO to " + where + ": " + describe_io_error(stream, ec);
  }
  std::array<char, 1024> chunk{};
  std::string received;
  resp::ReplyFramer framer;
  while (true) {
    auto read =
        co_await (stream.async_read_some(asio::buffer(chunk)) || deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      co_return "timed out waiting for the reply to HELLO from " + where;
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return "no reply to HELLO from " + where + ": " + describe_io_error(stream, ec);
    }
    received.append(chunk.data(), n);
    if (received.size() > 64 * kMaxLineReply) {
      co_return "unexpected reply to HELLO from " + where;
    }
    resp::FramedReply reply;
    const resp::errc e = framer.feed(received, reply);
    if (e == resp::errc::need_more) {
      continue;
    }
    if (e != resp::errc::ok || reply.length != received.size()) {
      co_return "unexpected reply to HELLO from " + where;
    }
    if (reply.type == '-' || reply.type == '!') {
      if (protocol == Protocol::Resp2) {
        co_return "";  // a Redis before 6.0: RESP2 is all it speaks anyway
      }
      co_return "HELLO 3 refused by " + where + ": " + received.substr(1, received.size() - 3);
    }
    version = hello_version(received);
    co_return "";
  }
}

// Sends ROLE and reads its reply; `role` gets its first element ("master", "slave", ...), `link`
// a replica's link to its master ("connected", ...). Returns "" when a reply came, else why not.
awaitable<std::string> role(Stream& stream, asio::steady_timer& deadline, const std::string& where,
                            std::string& role_out, std::string& link_out) {
  auto written = co_await (stream.async_write(asio::buffer(command::sent::kRoleRequest)) ||
                           deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    co_return "timed out sending ROLE to " + where;
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    co_return "cannot send ROLE to " + where + ": " + describe_io_error(stream, ec);
  }
  std::array<char, 1024> chunk{};
  std::string received;
  while (true) {
    auto read =
        co_await (stream.async_read_some(asio::buffer(chunk)) || deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      co_return "timed out waiting for the reply to ROLE from " + where;
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return "no reply to ROLE from " + where + ": " + describe_io_error(stream, ec);
    }
    received.append(chunk.data(), n);
    const RoleReply reply = parse_role_reply(received);
    if (reply.status == ParseStatus::NeedMore) {
      continue;
    }
    if (reply.status == ParseStatus::Invalid || reply.length != received.size()) {
      co_return "unexpected reply to ROLE from " + where;
    }
    role_out = reply.role.empty() ? received.substr(0, received.find('\r')) : reply.role;
    link_out = reply.link;
    co_return "";
  }
}

// One address: every step races the same deadline timer. Returns "" when the connection is
// ready for commands, else why not.
awaitable<std::string> attempt_steps(const UpstreamConfig& config, const tcp::endpoint& endpoint,
                                     Stream& stream, asio::steady_timer& deadline,
                                     Protocol protocol, std::string& version) {
  const std::string where = describe(endpoint);
  {
    auto result = co_await (stream.socket().async_connect(endpoint, use_nothrow) ||
                            deadline.async_wait(use_nothrow));
    if (result.index() == 1) {
      co_return "timed out connecting to " + where;
    }
    const auto [ec] = std::get<0>(result);
    if (ec || !stream.is_open()) {
      co_return "cannot connect to " + where + ": " + (ec ? ec.message() : std::string("closed"));
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }

  if (config.tls.enabled) {
    if (!config.tls.context) {
      co_return "tls.enabled but no TLS context (the config was not built by config::load)";
    }
    Stream::TlsStream& tls = stream.start_tls(*config.tls.context);
    auto result = co_await (tls.async_handshake(asio::ssl::stream_base::client, use_nothrow) ||
                            deadline.async_wait(use_nothrow));
    if (result.index() == 1) {
      co_return "timed out in the TLS handshake with " + where;
    }
    if (const auto [ec] = std::get<0>(result); ec) {
      co_return "TLS handshake with " + where +
          " (server_name=" + config.tls.context->server_name() +
          ") failed: " + TlsContext::describe_failure(tls, ec);
    }
  }

  if (config.auth.enabled()) {
    std::string command = auth_command(config.auth.username, config.auth.password);
    std::string line;
    std::string error =
        co_await exchange(stream, deadline, command, command::sent::kAuth, where, line);
    OPENSSL_cleanse(command.data(), command.size());
    if (!error.empty()) {
      co_return error;
    }
    if (line == "+OK") {
      if (protocol == Protocol::None) {
        co_return std::string();
      }
      // Not a co_await inside ?: : GCC 12 miscompiles that (a double free at run time).
      co_return co_await hello(stream, deadline, protocol, where, version);
    }
    const std::string user =
        config.auth.username.empty() ? std::string("default") : config.auth.username;
    if (line[0] == '-') {
      co_return "AUTH as user " + user + " rejected by " + where + ": " +
          redact(std::string_view(line).substr(1), config.auth.password);
    }
    co_return "unexpected reply to AUTH from " + where;
  }
  if (protocol != Protocol::None) {
    // HELLO's reply proves the TLS handshake was accepted, as the PING below would.
    co_return co_await hello(stream, deadline, protocol, where, version);
  }
  if (config.tls.enabled) {
    std::string line;
    co_return co_await exchange(stream, deadline, command::sent::kPingRequest, command::sent::kPing,
                                where, line);
  }
  co_return "";
}

enum class RoleCheck : std::uint8_t { None, Master, Replica };

// The steps of attempt_steps, then, for a sentinel-managed upstream or a cluster shard, ROLE;
// then, for a shard's replica, READONLY.
awaitable<std::string> attempt(const UpstreamConfig& config, const tcp::endpoint& endpoint,
                               Stream& stream, asio::steady_timer& deadline, Protocol protocol,
                               RoleCheck check, ConnectResult& result) {
  std::string error =
      co_await attempt_steps(config, endpoint, stream, deadline, protocol, result.server_version);
  if (!error.empty() || check == RoleCheck::None) {
    co_return error;
  }
  std::string node_role;
  std::string link;
  const std::string where = describe(endpoint);
  error = co_await role(stream, deadline, where, node_role, link);
  if (!error.empty()) {
    co_return error;
  }
  if (check == RoleCheck::Master) {
    if (node_role != "master") {
      result.not_master = true;
      error = "ROLE of " + where + " is " + node_role + ", not master";
    }
    co_return error;
  }
  if (node_role != "slave") {
    result.not_replica = true;
    co_return "ROLE of " + where + " is " + node_role + ", not replica";
  }
  if (link != "connected") {
    // Restarted and not synced yet, say: it would answer reads from an empty or old dataset.
    co_return "replica " + where + " is not in sync with its master (link " + link + ")";
  }
  std::string line;
  error = co_await exchange(stream, deadline, command::sent::kReadonlyRequest,
                            command::sent::kReadonly, where, line);
  if (error.empty() && line != "+OK") {
    error = "READONLY refused by " + where + ": " + line;
  }
  co_return error;
}

// Connects to `at`, trying each of its addresses in turn.
awaitable<ConnectResult> connect_address(asio::any_io_executor ex, const UpstreamConfig& config,
                                         const HostPort& at, Stream& stream, Protocol protocol,
                                         RoleCheck check) {
  ConnectResult result;
  result.address = at;
  std::vector<tcp::endpoint> endpoints;
  error_code ec;
  const auto address = asio::ip::make_address(at.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, at.port);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, resolved] =
        co_await resolver.async_resolve(at.host, std::to_string(at.port), use_nothrow);
    if (rec) {
      result.error = "cannot resolve " + at.host + ": " + rec.message();
      co_return result;
    }
    for (const auto& entry : resolved) {
      endpoints.push_back(entry.endpoint());
    }
  }
  for (const auto& endpoint : endpoints) {
    stream = Stream(ex);
    asio::steady_timer deadline(ex);
    deadline.expires_after(config.connect_timeout);
    result.error = co_await attempt(config, endpoint, stream, deadline, protocol, check, result);
    if (result.error.empty()) {
      result.ok = true;
      co_return result;
    }
    stream.close();
    if (result.not_master || result.not_replica) {
      break;
    }
  }
  if (endpoints.empty()) {
    result.error = "no address for " + at.host;
  }
  co_return result;
}

// At most this many nodes per connect of a sentinel-managed upstream (each one that is not the
// master makes the resolver ask the sentinels again).
constexpr int kMaxMasterCandidates = 3;

awaitable<ConnectResult> connect_master(asio::any_io_executor ex, const UpstreamConfig& config,
                                        Stream& stream, Protocol protocol) {
  MasterResolver& resolver = *config.resolver;
  ConnectResult result;
  for (int i = 0; i < kMaxMasterCandidates; ++i) {
    const MasterResolver::Candidate candidate = co_await resolver.resolve(ex);
    if (!candidate.master) {
      result = ConnectResult{};
      result.error = candidate.error;
      co_return result;
    }
    result = co_await connect_address(ex, config, *candidate.master, stream, protocol,
                                      RoleCheck::Master);
    if (result.ok) {
      co_return result;
    }
    // Either way the next resolve asks the sentinels again; a node that is not the master was
    // never connected, so nothing else needs to reconnect.
    resolver.connect_failed(*candidate.master);
    if (!result.not_master) {
      co_return result;
    }
  }
  co_return result;
}

// A shard of a cluster upstream: its master as the topology knows it now, checked with ROLE (a
// failed-over master that came back as a replica would answer every request with MOVED).
awaitable<ConnectResult> connect_shard(asio::any_io_executor ex, const UpstreamConfig& config,
                                       Stream& stream, Protocol protocol) {
  ClusterTopology& topology = *config.topology;
  ConnectResult result;
  const std::optional<HostPort> master = topology.shard_master(config.shard);
  if (!master) {
    result.error = "cluster shard " + std::to_string(config.shard) + " has no master";
    result.dormant = topology.spare(config.shard);
    co_return result;
  }
  const HostPort& at = *master;  // a named local of this frame, not a temporary
  result = co_await connect_address(ex, config, at, stream, protocol, RoleCheck::Master);
  if (!result.ok) {
    // Dead, or no longer a master: the map has likely changed.
    topology.request_refresh();
  }
  co_return result;
}

// At most this many replicas per connect of a shard's replica upstream.
constexpr std::size_t kMaxReplicaCandidates = 3;

// A shard's replica upstream: the shard's replicas as the topology knows them now, the one last
// reached first, each checked with ROLE and put in READONLY mode.
awaitable<ConnectResult> connect_replica(asio::any_io_executor ex, const UpstreamConfig& config,
                                         Stream& stream, Protocol protocol) {
  ClusterTopology& topology = *config.topology;
  ConnectResult result;
  const std::vector<HostPort> replicas = topology.shard_replicas(config.shard);
  if (replicas.empty()) {
    result.error = "cluster shard " + std::to_string(config.shard) + " has no replica";
    result.dormant = topology.spare(config.shard);
    co_return result;
  }
  for (std::size_t i = 0; i < replicas.size() && i < kMaxReplicaCandidates; ++i) {
    const HostPort& at = replicas[i];  // a named local of this frame, not a temporary
    result = co_await connect_address(ex, config, at, stream, protocol, RoleCheck::Replica);
    if (result.ok) {
      topology.replica_connected(config.shard, at);
      co_return result;
    }
  }
  // Dead, or promoted: the map has likely changed.
  topology.request_refresh();
  co_return result;
}

}  // namespace

awaitable<ConnectResult> connect_upstream(asio::any_io_executor ex, const UpstreamConfig& config,
                                          Stream& stream, Protocol protocol) {
  // Named results and arguments, no temporaries in a co_await: GCC 12 destroys such a temporary
  // twice (a double free at run time).
  ConnectResult result;
  if (config.resolver) {
    result = co_await connect_master(ex, config, stream, protocol);
    co_return result;
  }
  if (config.topology && config.shard_role == ShardRole::Replica) {
    result = co_await connect_replica(ex, config, stream, protocol);
    co_return result;
  }
  if (config.topology) {
    result = co_await connect_shard(ex, config, stream, protocol);
    co_return result;
  }
  const HostPort at{config.host, config.port};
  result = co_await connect_address(ex, config, at, stream, protocol, RoleCheck::None);
  co_return result;
}

std::string hello_version(std::string_view reply) {
  // Walks name/value pairs of bulk or simple strings; other values (integers, arrays) are
  // skipped by framing them.
  if (reply.empty() || (reply[0] != '*' && reply[0] != '%')) {
    return {};
  }
  std::size_t pos = reply.find("\r\n");
  if (pos == std::string_view::npos) {
    return {};
  }
  pos += 2;
  const auto element = [&reply](std::size_t at, std::size_t& length) -> std::string_view {
    resp::ReplyFramer framer;
    resp::FramedReply framed;
    if (framer.feed(reply.substr(at), framed) != resp::errc::ok) {
      return {};
    }
    length = framed.length;
    const std::string_view whole = reply.substr(at, framed.length);
    if (whole[0] == '$') {
      const auto body = whole.find("\r\n") + 2;
      return whole.substr(body, whole.size() - body - 2);
    }
    if (whole[0] == '+') {
      return whole.substr(1, whole.size() - 3);
    }
    return "\x01";  // not a string: never a name we look for
  };
  bool is_version = false;
  bool is_name = true;
  while (pos < reply.size()) {
    std::size_t length = 0;
    const std::string_view value = element(pos, length);
    if (length == 0) {
      return {};
    }
    if (!is_name && is_version) {
      return std::string(value);
    }
    is_version = is_name && value == "version";
    is_name = !is_name;
    pos += length;
  }
  return {};
}

std::string auth_command(std::string_view username, std::string_view password) {
  std::string out;
  resp::append_array_header(out, username.empty() ? 2 : 3);
  resp::append_bulk(out, command::sent::kAuth);
  if (!username.empty()) {
    resp::append_bulk(out, username);
  }
  resp::append_bulk(out, password);
  return out;
}

LineReply parse_line_reply(std::string_view bytes) {
  LineReply reply;
  const bool typed = !bytes.empty() && (bytes[0] == '+' || bytes[0] == '-');
  const auto end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    const bool plausible = bytes.empty() || (typed && bytes.size() < kMaxLineReply);
    reply.status = plausible ? LineStatus::NeedMore : LineStatus::Unexpected;
    return reply;
  }
  if (!typed || end >= kMaxLineReply) {
    reply.status = LineStatus::Unexpected;
    return reply;
  }
  reply.status = bytes[0] == '+' ? LineStatus::Simple : LineStatus::Error;
  reply.length = end + 2;
  reply.text = bytes.substr(1, end - 1);
  return reply;
}

std::string redact(std::string_view text, std::string_view secret) {
  std::string out;
  if (secret.empty()) {
    return std::string(text);
  }
  std::size_t from = 0;
  while (true) {
    const auto at = text.find(secret, from);
    out.append(
        text.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) {
      return out;
    }
    out.append("<redacted>");
    from = at + secret.size();
  }
}

}  // namespace seawall::upstream
