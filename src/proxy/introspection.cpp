#include "seawall/proxy/introspection.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/number.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::proxy::introspection {
namespace {

namespace replies = resp::replies;

using util::iequals;

// Redis's string2ll: an optional '-', then digits without leading zeros ("0" alone is fine),
// within a signed 64-bit integer.
bool parse_int64(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  const bool negative = text.front() == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty() || (digits.front() == '0' && (digits.size() > 1 || negative))) {
    return false;
  }
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return false;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (negative) {
    if (value > kMax + 1) {
      return false;
    }
    out = value == kMax + 1 ? std::numeric_limits<std::int64_t>::min()
                            : -static_cast<std::int64_t>(value);
  } else {
    if (value > kMax) {
      return false;
    }
    out = static_cast<std::int64_t>(value);
  }
  return true;
}

std::string error_with(std::string_view prefix, std::string_view what, std::string_view suffix) {
  std::string reply(prefix);
  reply.append(what).append(suffix);
  return reply;
}

void append_number(std::string& out, std::int64_t value) { out += std::to_string(value); }

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append(":").append(value).append("\r\n");
}

void append_field(std::string& out, std::string_view key, std::uint64_t value) {
  append_field(out, key, std::to_string(value));
}

std::string per_thread_text(const InfoData& d) {
  std::string per_thread;
  for (std::uint64_t n : d.clients_per_thread) {
    per_thread.append(per_thread.empty() ? "" : ",").append(std::to_string(n));
  }
  return per_thread;
}

void append_upstreams(std::string& out, const InfoData& d) {
  for (std::size_t i = 0; i < d.upstreams.size(); ++i) {
    const InfoData::Upstream& u = d.upstreams[i];
    append_field(out, "upstream" + std::to_string(i),
                 "name=" + u.name + ",address=" + u.address + ",breaker=" + std::string(u.breaker));
  }
}

}  // namespace

void append_text_reply(std::string& out, std::string_view text, Protocol protocol) {
  if (protocol == Protocol::Resp2) {
    resp::append_bulk(out, text);
    return;
  }
  out += '=';
  out += std::to_string(text.size() + 4);
  out.append("\r\ntxt:").append(text).append("\r\n");
}

ClientType type_of(const ClientView& client) {
  if ((client.flags & kFlagReplica) != 0 && (client.flags & kFlagMonitor) == 0) {
    return ClientType::Replica;
  }
  if ((client.flags & kFlagPubsub) != 0) {
    return ClientType::Pubsub;
  }
  return ClientType::Normal;
}

std::optional<ClientType> parse_client_type(std::string_view name) {
  if (iequals(name, "normal")) {
    return ClientType::Normal;
  }
  if (iequals(name, "slave") || iequals(name, "replica")) {
    return ClientType::Replica;
  }
  if (iequals(name, "pubsub")) {
    return ClientType::Pubsub;
  }
  if (iequals(name, "master")) {
    return ClientType::Master;
  }
  return std::nullopt;
}

std::string format_address(std::string_view ip, std::uint16_t port) {
  std::string out;
  if (ip.find(':') != std::string_view::npos) {
    out.append("[").append(ip).append("]");
  } else {
    out.append(ip);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

std::optional<SubscriptionReply> parse_subscription_reply(std::string_view reply) {
  // *3\r\n (or >3\r\n) $<n>\r\n<kind>\r\n <channel: bulk, or null when there was none>
  // :<count>\r\n
  if (reply.size() < 4 || (reply[0] != '*' && reply[0] != '>') || reply.substr(1, 3) != "3\r\n") {
    return std::nullopt;
  }
  std::size_t pos = 4;
  const auto line = [&]() -> std::optional<std::string_view> {
    const std::size_t end = reply.find("\r\n", pos);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view text = reply.substr(pos, end - pos);
    pos = end + 2;
    return text;
  };
  const auto bulk = [&]() -> std::optional<std::string_view> {
    const std::optional<std::string_view> header = line();
    if (!header || header->empty() || header->front() != '$') {
      return std::nullopt;
    }
    const std::optional<std::int64_t> length = resp::parse_int64(header->substr(1));
    if (!length || *length < 0 || static_cast<std::uint64_t>(*length) > reply.size() - pos ||
        reply.size() - pos - static_cast<std::size_t>(*length) < 2) {
      return std::nullopt;
    }
    const auto n = static_cast<std::size_t>(*length);
    const std::string_view text = reply.substr(pos, n);
    pos += n + 2;
    return text;
  };
  const std::optional<std::string_view> kind = bulk();
  if (!kind) {
    return std::nullopt;
  }
  SubscriptionReply out;
  // Redis names a confirmation after the command it confirms: that command's row says which
  // subscriptions it counts.
  switch (command::rules_of(command::lookup(*kind)).channels) {
    case command::Channels::Channel:
      out.kind = SubscriptionReply::Kind::Channel;
      break;
    case command::Channels::Pattern:
      out.kind = SubscriptionReply::Kind::Pattern;
      break;
    case command::Channels::Shard:
      out.kind = SubscriptionReply::Kind::Shard;
      break;
    case command::Channels::None:
      return std::nullopt;  // a message, pmessage, smessage or any other array
  }
  // The channel: a bulk string, or null ($-1, RESP3 _) for an UNSUBSCRIBE of nothing.
  if (pos < reply.size() && reply[pos] == '$' && reply.substr(pos, 3) != "$-1") {
    if (!bulk()) {
      return std::nullopt;
    }
  } else if (!line()) {
    return std::nullopt;
  }
  const std::optional<std::string_view> count = line();
  if (!count || count->empty() || count->front() != ':') {
    return std::nullopt;
  }
  const std::optional<std::int64_t> n = resp::parse_int64(count->substr(1));
  if (!n || *n < 0) {
    return std::nullopt;
  }
  out.count = *n;
  return out;
}

void append_client_line(std::string& out, const ClientView& c) {
  // Redis's flag letters, in Redis's order; N when none is set.
  std::string flags;
  if ((c.flags & kFlagMonitor) != 0) {
    flags += 'O';
  } else if ((c.flags & kFlagReplica) != 0) {
    flags += 'S';
  }
  if ((c.flags & kFlagPubsub) != 0) {
    flags += 'P';
  }
  if ((c.flags & kFlagMulti) != 0) {
    flags += 'x';
  }
  if ((c.flags & kFlagTracking) != 0) {
    flags += 't';
  }
  if (flags.empty()) {
    flags = "N";
  }
  // Each field as Redis writes it: " name=value", in Redis's order.
  const auto text = [&out](std::string_view name, std::string_view value) {
    out.append(" ").append(name).append("=").append(value);
  };
  const auto number = [&out](std::string_view name, std::int64_t value) {
    out.append(" ").append(name).append("=");
    append_number(out, value);
  };
  out.append("id=").append(std::to_string(c.id));
  text("addr", c.addr);
  text("laddr", c.laddr);
  number("fd", c.fd);
  text("name", c.name);
  number("age", c.age_seconds);
  number("idle", c.idle_seconds);
  text("flags", flags);
  number("db", c.db);
  number("sub", c.sub);
  number("psub", c.psub);
  number("ssub", c.ssub);
  number("multi", c.multi);
  number("qbuf", c.qbuf);
  number("qbuf-free", c.qbuf_free);
  number("argv-mem", c.argv_mem);
  // Output buffers are seawall's own per session, with no Redis counterpart: shown as 0.
  out.append(" multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r");
  text("cmd", c.cmd.empty() ? std::string_view("NULL") : std::string_view(c.cmd));
  text("user", c.user);
  out.append((c.flags & kFlagTracking) != 0 ? " redir=0" : " redir=-1");
  number("resp", static_cast<std::int64_t>(c.resp));
  text("lib-name", c.lib_name);
  text("lib-ver", c.lib_ver);
}

bool valid_client_attribute(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '!' && ch <= '~'; });
}

bool ListRequest::matches(const ClientView& client) const {
  return !type || type_of(client) == *type;
}

Parsed<ListRequest> parse_client_list(std::span<const std::string_view> args) {
  Parsed<ListRequest> result;
  if (args.size() == 4 && iequals(args[2], "type")) {
    result.value.type = parse_client_type(args[3]);
    if (!result.value.type) {
      result.error = error_with(replies::kUnknownClientTypePrefix, args[3], replies::kQuoteEnd);
    }
  } else if (args.size() > 3 && iequals(args[2], "id")) {
    result.value.by_id = true;
    for (std::size_t i = 3; i < args.size(); ++i) {
      std::int64_t id = 0;
      if (!parse_int64(args[i], id)) {
        result.error = replies::kInvalidClientId;
        return result;
      }
      // A negative id names no client; Redis looks it up as an unsigned number and finds none.
      result.value.ids.push_back(static_cast<std::uint64_t>(id));
    }
  } else if (args.size() != 2) {
    result.error = replies::kSyntaxError;
  }
  return result;
}

bool KillFilter::matches(const ClientView& client, bool is_self) const {
  if (addr && client.addr != *addr) {
    return false;
  }
  if (laddr && client.laddr != *laddr) {
    return false;
  }
  if (type && type_of(client) != *type) {
    return false;
  }
  if (id != 0 && client.id != id) {
    return false;
  }
  if (user && client.user != *user) {
    return false;
  }
  return !(is_self && skipme);
}

Parsed<KillFilter> parse_client_kill(std::span<const std::string_view> args,
                                     const std::function<bool(std::string_view)>& user_exists) {
  Parsed<KillFilter> result;
  KillFilter& f = result.value;
  if (args.size() == 3) {
    f.old_form = true;
    f.addr = std::string(args[2]);
    f.skipme = false;
    return result;
  }
  if (args.size() < 3) {
    result.error = replies::kSyntaxError;
    return result;
  }
  for (std::size_t i = 2; i < args.size(); i += 2) {
    const std::string_view option = args[i];
    if (i + 1 >= args.size()) {
      result.error = replies::kSyntaxError;
      return result;
    }
    const std::string_view value = args[i + 1];
    if (iequals(option, "id")) {
      std::int64_t id = 0;
      if (!parse_int64(value, id) || id < 1) {
        result.error = replies::kClientIdNotPositive;
        return result;
      }
      f.id = static_cast<std::uint64_t>(id);
    } else if (iequals(option, "type")) {
      f.type = parse_client_type(value);
      if (!f.type) {
        result.error = error_with(replies::kUnknownClientTypePrefix, value, replies::kQuoteEnd);
        return result;
      }
    } else if (iequals(option, "addr")) {
      f.addr = std::string(value);
    } else if (iequals(option, "laddr")) {
      f.laddr = std::string(value);
    } else if (iequals(option, "user")) {
      if (!user_exists(value)) {
        result.error = error_with(replies::kNoSuchUserPrefix, value, replies::kQuoteEnd);
        return result;
      }
      f.user = std::string(value);
    } else if (iequals(option, "skipme")) {
      if (iequals(value, "yes")) {
        f.skipme = true;
      } else if (iequals(value, "no")) {
        f.skipme = false;
      } else {
        result.error = replies::kSyntaxError;
        return result;
      }
    } else {
      result.error = replies::kSyntaxError;
      return result;
    }
  }
  return result;
}

std::string kill_reply(const KillFilter& filter, std::uint64_t killed) {
  if (filter.old_form) {
    return std::string(killed == 0 ? replies::kNoSuchClient : replies::kOk);
  }
  std::string reply;
  resp::append_integer(reply, static_cast<std::int64_t>(killed));
  return reply;
}

InfoSections parse_info_sections(std::span<const std::string_view> args) {
  InfoSections s;
  if (args.empty()) {
    return InfoSections{true, true, true, true, true};
  }
  for (std::string_view name : args) {
    if (iequals(name, "default") || iequals(name, "all") || iequals(name, "everything")) {
      return InfoSections{true, true, true, true, true};
    }
    s.server = s.server || iequals(name, "server");
    s.clients = s.clients || iequals(name, "clients");
    s.stats = s.stats || iequals(name, "stats");
    s.upstreams = s.upstreams || iequals(name, "upstreams");
    s.seawall = s.seawall || iequals(name, "seawall");
  }
  return s;
}

std::string render_info(const InfoData& d, const InfoSections& asked) {
  InfoSections sections = asked;
  if (sections.seawall) {
    // Everything `# Seawall` would hold is in seawall's own sections.
    sections = InfoSections{true, true, true, true, true};
  }
  std::string out;
  auto header = [&out](std::string_view title) {
    if (!out.empty()) {
      out.append("\r\n");
    }
    out.append("# ").append(title).append("\r\n");
  };
  if (sections.server) {
    header("Server");
    append_field(out, "seawall_version", d.version);
    append_field(out, "process_id", static_cast<std::uint64_t>(d.process_id));
    append_field(out, "tcp_port", std::uint64_t{d.tcp_port});
    append_field(out, "uptime_in_seconds", static_cast<std::uint64_t>(d.uptime_seconds));
    append_field(out, "uptime_in_days", static_cast<std::uint64_t>(d.uptime_seconds / 86400));
    append_field(out, "threads", std::uint64_t{d.threads});
    append_field(out, "config_file", d.config_file);
  }
  if (sections.clients) {
    header("Clients");
    append_field(out, "connected_clients", d.connected_clients);
    append_field(out, "maxclients", d.maxclients);
    append_field(out, "pinned_clients", d.pinned_clients);
    append_field(out, "max_pinned", d.max_pinned);
    append_field(out, "clients_per_thread", per_thread_text(d));
  }
  if (sections.stats) {
    header("Stats");
    append_field(out, "total_connections_received", d.total_connections_received);
    append_field(out, "total_commands_processed", d.total_commands_processed);
    for (const auto& [source, count] : d.answers) {
      append_field(out, "answers_" + std::string(source), count);
    }
  }
  if (sections.upstreams) {
    header("Upstreams");
    append_upstreams(out, d);
  }
  return out;
}

std::optional<std::string_view> text_reply_body(std::string_view reply) {
  if (reply.size() < 4 || (reply[0] != '$' && reply[0] != '=')) {
    return std::nullopt;
  }
  const std::size_t nl = reply.find("\r\n");
  if (nl == std::string_view::npos) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> length = resp::parse_int64(reply.substr(1, nl - 1));
  const std::size_t begin = nl + 2;
  if (!length || *length < 0 || static_cast<std::uint64_t>(*length) + begin + 2 > reply.size()) {
    return std::nullopt;
  }
  std::string_view body = reply.substr(begin, static_cast<std::size_t>(*length));
  if (reply[0] == '=') {
    if (body.size() < 4) {
      return std::nullopt;
    }
    body.remove_prefix(4);  // "txt:"
  }
  return body;
}

std::string merge_info(std::string_view redis_text, const InfoData& d,
                       const InfoSections& sections) {
  constexpr std::string_view kField = "connected_clients:";
  std::string out;
  out.reserve(redis_text.size() + 1024);
  // Line by line: Redis's own count is of seawall's shared connections, not of the applications.
  std::size_t pos = 0;
  while (pos < redis_text.size()) {
    std::size_t end = redis_text.find('\n', pos);
    end = end == std::string_view::npos ? redis_text.size() : end + 1;
    const std::string_view line = redis_text.substr(pos, end - pos);
    if (line.substr(0, kField.size()) == kField) {
      out.append(kField).append(std::to_string(d.connected_clients)).append("\r\n");
    } else {
      out.append(line);
    }
    pos = end;
  }
  if (!sections.seawall) {
    return out;
  }
  if (!out.empty()) {
    if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n") {
      out.append("\r\n");
    }
    out.append("\r\n");
  }
  out.append("# Seawall\r\n");
  append_field(out, "seawall_version", d.version);
  append_field(out, "threads", std::uint64_t{d.threads});
  append_field(out, "connected_clients", d.connected_clients);
  append_field(out, "maxclients", d.maxclients);
  append_field(out, "pinned_clients", d.pinned_clients);
  append_field(out, "max_pinned", d.max_pinned);
  append_field(out, "clients_per_thread", per_thread_text(d));
  append_field(out, "total_connections_received", d.total_connections_received);
  append_field(out, "total_commands_processed", d.total_commands_processed);
  for (const auto& [source, count] : d.answers) {
    append_field(out, "answers_" + std::string(source), count);
  }
  append_upstreams(out, d);
  return out;
}

}  // namespace seawall::proxy::introspection
