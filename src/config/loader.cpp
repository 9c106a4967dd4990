#include "seawall/config/loader.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/binder.hpp"
#include "config/secret.hpp"
#include "config/units.hpp"
#include "seawall/command/command_set.hpp"
#include "seawall/policy/defaults.hpp"
#include "seawall/upstream/tls_build.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::config {
namespace {

using detail::Choice;
using detail::MapBinder;
using detail::Presence;

constexpr std::uint32_t kMaxThreads = 256;
constexpr std::uint32_t kMaxConnectionsPerThread = 64;
constexpr std::uint32_t kMaxReplyDepth = 1024;
// Redis itself refuses a multibulk longer than this.
constexpr std::uint64_t kMaxArrayElements = 2147483647;
constexpr Millis kPositive{1};
constexpr std::uint32_t kMaxAdminConnections = 1024;
// Below this not even a scraper's headers fit; above it the admin port only invites abuse.
constexpr std::uint64_t kMinAdminRequestSize = 1024;
constexpr std::uint64_t kMaxAdminRequestSize = 1024 * 1024;
// A password file larger than this is not a password file (a wrong path, say).

bool is_ipv4(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool is_ipv6(const std::string& text) {
  in6_addr address{};
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string check_ip_literal(std::string_view text) {
  const std::string address(text);
  if (is_ipv4(address) || is_ipv6(address)) {
    return {};
  }
  return "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got \"" + address + "\"";
}

// Upstream names appear in logs as `upstream=NAME` and in metric labels, and routes refer to
// them, so they stay plain words.
std::string check_upstream_name(std::string_view text) {
  if (text.empty()) {
    return "must not be empty";
  }
  for (char c : text) {
    if (!is_name_char(c)) {
      return "may contain only letters, digits, '_', '-' and '.', got \"" + std::string(text) +
             "\"";
    }
  }
  return {};
}

// "host:port" or "[ipv6]:port" into host and port.
std::string parse_host_port(std::string_view text, std::string& host_out, std::uint16_t& port_out) {
  const std::string example = " (expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379)";
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after the IPv6 address" + example;
    }
    host = std::string(text.substr(1, close - 1));
    if (!is_ipv6(host)) {
      return "\"" + host + "\" is not an IPv6 address" + example;
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return "missing port" + example;
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "missing port" + example;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "an IPv6 address needs brackets" + example;
    }
    if (host.empty()) {
      return "missing host" + example;
    }
    for (char c : host) {
      if (!is_name_char(c)) {
        return "\"" + host + "\" is not a host name or IPv4 address" + example;
      }
    }
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return "port must be between 1 and 65535, got \"" + std::string(port_text) + "\"";
  }
  host_out = std::move(host);
  port_out = static_cast<std::uint16_t>(port);
  return {};
}

void bind_listen(MapBinder& m, ListenConfig& out) {
  m.string("address", out.address, check_ip_literal);
  m.uint("port", out.port, 1, 65535);
}

// A decimal number in [min, max] (percentages, multipliers, fractions).
MapBinder::ScalarParser real_in(double& out, double min, double max) {
  return [&out, min, max](std::string_view text) -> std::string {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return "must be a number, got \"" + std::string(text) + "\"";
    }
    if (value < min || value > max) {
      return "must be between " + std::to_string(min).substr(0, std::to_string(min).find('.') + 2) +
             " and " + std::to_string(max).substr(0, std::to_string(max).find('.') + 2);
    }
    out = value;
    return {};
  };
}

void bind_breaker(MapBinder& m, breaker::BreakerConfig& out) {
  m.choice("window", out.window_kind,
           {Choice<breaker::WindowKind>{"count", breaker::WindowKind::Count},
            Choice<breaker::WindowKind>{"time", breaker::WindowKind::Time}});
  m.uint("window_size", out.window_size, 1, 100000);
  m.duration("window_duration", out.window_duration, kPositive);
  m.uint("window_buckets", out.window_buckets, 1, 100);
  m.uint("minimum_calls", out.minimum_calls, 1);
  m.scalar("failure_rate_threshold", "a percentage",
           real_in(out.failure_rate_threshold, 0.0, 100.0));
  m.uint("consecutive_failures", out.consecutive_failures, 0);
  m.duration("slow_call_duration", out.slow_call_duration, kPositive);
  m.scalar("slow_call_rate_threshold", "a percentage",
           real_in(out.slow_call_rate_threshold, 0.0, 100.0));
  m.duration("open_duration", out.open_duration, kPositive);
  m.duration("max_open_duration", out.max_open_duration, kPositive);
  m.scalar("backoff_multiplier", "a number", real_in(out.backoff_multiplier, 1.0, 100.0));
  m.scalar("jitter", "a fraction", real_in(out.jitter, 0.0, 0.99));
  m.uint("half_open_probes", out.half_open_probes, 1, 1000);
  m.uint("half_open_successes_to_close", out.half_open_successes_to_close, 1, 1000);
  // Cross-field rules (minimum_calls <= window_size, max >= open duration, ...).
  for (const std::string& problem : breaker::validate(out)) {
    const auto colon = problem.find(':');
    const std::string field = colon == std::string::npos ? "" : problem.substr(0, colon);
    const std::string message =
        colon == std::string::npos
            ? problem
            : problem.substr(colon + 2 <= problem.size() ? colon + 2 : colon + 1);
    m.error(field, message);
  }
}

void bind_health_check(MapBinder& m, HealthCheckConfig& out) {
  m.boolean("enabled", out.enabled);
  m.duration("interval", out.interval, kPositive);
  m.duration("timeout", out.timeout, kPositive);
}

// A password named by `password_env` or `password_file`, exactly one of them. Returns false,
// having reported nothing, when neither is set.
// `env` and `file` receive the names given.
bool bind_password(MapBinder& m, std::string& out, std::string& env, std::string& file) {
  const bool env_ok = m.string("password_env", env, detail::check_env_name);
  const bool file_ok = m.string("password_file", file, [](std::string_view text) {
    return text.empty() ? std::string("must not be empty") : std::string();
  });
  const bool has_env = m.has("password_env");
  const bool has_file = m.has("password_file");
  if (!has_env && !has_file) {
    return false;
  }
  if (has_env && has_file) {
    m.error("password_file", "set either password_env or password_file, not both");
  } else if (has_env && env_ok) {
    const std::string problem = detail::secret_from_env(env, out);
    if (!problem.empty()) {
      m.error("password_env", problem);
    }
  } else if (has_file && file_ok) {
    const std::string problem = detail::secret_from_file(file, out);
    if (!problem.empty()) {
      m.error("password_file", problem);
    }
  }
  return true;
}

// Resolves the password now, so that a missing variable or file stops seawall at startup
// (and fails --check-config) instead of showing up later as connect failures.
void bind_auth(MapBinder& m, UpstreamAuthConfig& out) {
  m.string("username", out.username);
  if (!bind_password(m, out.password, out.password_env, out.password_file)) {
    m.report_at(m.line(""), m.path(), "needs password_env or password_file");
  }
}

std::string check_server_name(std::string_view text) {
  const std::string name(text);
  if (name.empty() || is_ipv4(name) || is_ipv6(name)) {
    return {};
  }
  for (char c : name) {
    if (!is_name_char(c)) {
      return "must be a DNS name or an IP address, got \"" + name + "\"";
    }
  }
  return {};
}

// `host` is the upstream's host ("" when its address was invalid: then no context is built).
// An empty string means the default, as for journal.path, so the reference file can list all.
void bind_tls(MapBinder& m, UpstreamTlsConfig& out, const std::string& host) {
  bool ok = m.boolean("enabled", out.enabled);
  ok = m.string("ca_file", out.ca_file) && ok;
  ok = m.string("server_name", out.server_name, check_server_name) && ok;
  ok = m.boolean("verify", out.verify) && ok;
  const bool cert_ok = m.string("cert_file", out.cert_file);
  const bool key_ok = m.string("key_file", out.key_file);
  ok = ok && cert_ok && key_ok;
  if (cert_ok && key_ok && out.cert_file.empty() != out.key_file.empty()) {
    m.error(out.cert_file.empty() ? "key_file" : "cert_file",
            "cert_file and key_file go together: set both or neither");
    ok = false;
  }
  if (!ok || !out.enabled || host.empty()) {
    return;
  }
  upstream::TlsBuild built = upstream::build_tls_context(out, host);
  if (built.context == nullptr) {
    m.error(built.error_key, built.error);
    return;
  }
  out.context = std::move(built.context);
}

void bind_upstream(MapBinder& m, UpstreamConfig& out) {
  m.string("name", out.name, check_upstream_name, Presence::Required);
  m.scalar(
      "address", "host:port",
      [&](std::string_view text) { return parse_host_port(text, out.host, out.port); },
      Presence::Required);
  m.uint("connections", out.connections, 1, kMaxConnectionsPerThread);
  m.duration("connect_timeout", out.connect_timeout, kPositive);
  m.duration("request_timeout", out.request_timeout, kPositive);
  const bool min_ok = m.duration("reconnect_backoff_min", out.reconnect_backoff_min, kPositive);
  const bool max_ok = m.duration("reconnect_backoff_max", out.reconnect_backoff_max, kPositive);
  if (min_ok && max_ok && out.reconnect_backoff_max < out.reconnect_backoff_min) {
    if (m.has("reconnect_backoff_max")) {
      m.error("reconnect_backoff_max", "must be >= reconnect_backoff_min (" +
                                           detail::format_duration(out.reconnect_backoff_min) +
                                           ")");
    } else {
      m.error("reconnect_backoff_min", "must be <= reconnect_backoff_max (" +
                                           detail::format_duration(out.reconnect_backoff_max) +
                                           ")");
    }
  }
  m.uint("max_pending", out.max_pending, 1);
  m.map("breaker", [&](MapBinder& b) { bind_breaker(b, out.breaker); });
  m.map("health_check", [&](MapBinder& h) { bind_health_check(h, out.health_check); });
  m.duration("recovery_ramp", out.recovery_ramp, Millis{0});
  m.map("auth", [&](MapBinder& a) { bind_auth(a, out.auth); });
  m.map("tls", [&](MapBinder& t) { bind_tls(t, out.tls, out.host); });
}

void bind_routes(MapBinder& root, Config& config) {
  root.list("routes", [&](MapBinder& m, std::size_t) {
    config.routes.emplace_back();
    RouteConfig& route = config.routes.back();
    m.string("prefix", route.prefix, {}, Presence::Required);
    m.string("upstream", route.upstream, check_upstream_name, Presence::Required);
  });
  root.string("default_upstream", config.default_upstream, check_upstream_name);
  // Names resolve to indexes once every upstream is known.
  auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
      if (config.upstreams[i].name == name) {
        return i;
      }
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    RouteConfig& route = config.routes[i];
    if (route.upstream.empty()) {
      continue;
    }
    if (auto index = index_of(route.upstream)) {
      route.upstream_index = *index;
    } else {
      root.report_at(root.line("routes"), detail::index_path("routes", i) + ".upstream",
                     "no upstream named \"" + route.upstream + "\"");
    }
  }
  if (!config.default_upstream.empty()) {
    if (auto index = index_of(config.default_upstream)) {
      config.default_upstream_index = *index;
    } else {
      root.error("default_upstream", "no upstream named \"" + config.default_upstream + "\"");
    }
  }
}

void bind_cache(MapBinder& m, CacheConfig& out) {
  m.size("max_bytes", out.max_bytes, 0);
  m.size("max_entry_bytes", out.max_entry_bytes, 1);
}

void bind_protect_database(MapBinder& m, ProtectDatabaseConfig& out) {
  m.uint("fallthrough_per_second", out.fallthrough_per_second, 0);
  m.uint("burst", out.burst, 0);
}

void bind_policy(MapBinder& m, policy::PolicyRule& rule) {
  m.string("match", rule.pattern, {}, Presence::Required);
  rule.policy.name = rule.pattern;
  if (m.has("l1")) {
    rule.policy.l1 = policy::L1Policy{true, Millis{5000}, Millis{60000}};
    m.map("l1", [&](MapBinder& l1) {
      l1.boolean("enabled", rule.policy.l1.enabled);
      l1.duration("ttl", rule.policy.l1.ttl, Millis{0});
      l1.duration("max_stale", rule.policy.l1.max_stale, Millis{0});
      l1.choice("admission", rule.policy.l1.admission,
                {Choice<cache::Admission>{"tinylfu", cache::Admission::TinyLfu},
                 Choice<cache::Admission>{"always", cache::Admission::Always}});
    });
  }
  m.raw("default", [&](const YAML::Node& node, const std::string& path, int line) {
    policy::DefaultResult result = policy::default_from_yaml(node, path);
    if (result.error) {
      m.report_at(result.error->line > 0 ? result.error->line : line, result.error->path,
                  result.error->message);
    } else {
      rule.policy.degraded_default = std::move(result.bytes);
    }
  });
  m.choice("on_unavailable", rule.policy.on_unavailable,
           {Choice<policy::OnUnavailable>{"miss", policy::OnUnavailable::Miss},
            Choice<policy::OnUnavailable>{"error", policy::OnUnavailable::Error}});
  m.choice("writes_when_open", rule.policy.writes_when_open,
           {Choice<policy::WritesWhenOpen>{"reject", policy::WritesWhenOpen::Reject},
            Choice<policy::WritesWhenOpen>{"invalidate", policy::WritesWhenOpen::Invalidate},
            Choice<policy::WritesWhenOpen>{"journal", policy::WritesWhenOpen::Journal}});
}

void bind_journal(MapBinder& m, JournalConfig& out) {
  m.uint("max_entries", out.max_entries, 1);
  m.size("max_bytes", out.max_bytes, 1);
  m.string("path", out.path);
  m.choice("fsync", out.fsync,
           {Choice<JournalFsync>{"always", JournalFsync::Always},
            Choice<JournalFsync>{"everysec", JournalFsync::Everysec},
            Choice<JournalFsync>{"no", JournalFsync::No}});
}

void bind_upstreams(MapBinder& root, std::vector<UpstreamConfig>& out) {
  std::map<std::string, int, std::less<>> name_lines;
  const bool ok = root.list(
      "upstreams",
      [&](MapBinder& m, std::size_t) {
        out.emplace_back();
        bind_upstream(m, out.back());
        const std::string& name = out.back().name;
        if (name.empty()) {
          return;
        }
        const auto [it, inserted] = name_lines.emplace(name, m.line("name"));
        if (!inserted) {
          m.error("name", "duplicate upstream name \"" + name + "\" (first at line " +
                              std::to_string(it->second) + ")");
        }
      },
      Presence::Required);
  if (ok && root.has("upstreams") && out.empty()) {
    root.error("upstreams", "at least one upstream is required");
  }
}

void bind_limits(MapBinder& m, LimitsConfig& out) {
  m.uint("max_clients", out.max_clients, 1);
  m.size("max_bulk", out.max_bulk, 1);
  m.uint("max_array", out.max_array, 1, kMaxArrayElements);
  m.size("max_inline", out.max_inline, 1);
  m.uint("max_depth", out.max_depth, 1, kMaxReplyDepth);
  m.size("client_output_buffer", out.client_output_buffer, 1);
  m.uint("max_pipeline", out.max_pipeline, 1);
  m.uint("max_pinned", out.max_pinned, 0);
  m.duration("idle_timeout", out.idle_timeout, Millis{0});
}

void bind_log(MapBinder& m, LogConfig& out) {
  m.choice("level", out.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  m.choice(
      "format", out.format,
      {Choice<LogFormat>{"text", LogFormat::Text}, Choice<LogFormat>{"json", LogFormat::Json}});
}

void bind_shutdown(MapBinder& m, ShutdownConfig& out) {
  // 0 is meaningful: cancel sessions at once.
  m.duration("drain_timeout", out.drain_timeout, Millis{0});
}

void bind_admin(MapBinder& m, AdminConfig& out) {
  m.boolean("enabled", out.enabled);
  m.string("address", out.address, check_ip_literal);
  m.uint("port", out.port, 1, 65535);
  m.uint("max_connections", out.max_connections, 1, kMaxAdminConnections);
  m.size("max_request_size", out.max_request_size, kMinAdminRequestSize, kMaxAdminRequestSize);
  m.duration("read_timeout", out.read_timeout, kPositive);
}

// The user `password_env` alone stands for: what AUTH <password> authenticates as in Redis.
constexpr std::string_view kDefaultUser = "default";

// User names travel in AUTH and HELLO arguments and appear in error messages: printable ASCII
// without spaces, like Redis's ACL user names.
std::string check_user_name(std::string_view text) {
  if (text.empty()) {
    return "must not be empty";
  }
  for (char c : text) {
    if (c <= ' ' || c > '~') {
      return "may contain only printable ASCII characters without spaces";
    }
  }
  return {};
}

void bind_auth(MapBinder& m, AuthConfig& out) {
  if (!m.is_map()) {
    return;
  }
  const bool has_users = m.has("users");
  AuthUser single{std::string(kDefaultUser), {}};
  std::string env;
  std::string file;
  const bool has_single = bind_password(m, single.password, env, file);
  if (has_users && has_single) {
    m.error("users",
            "set either one password (password_env or password_file, for the user "
            "\"default\") or users, not both");
  }
  if (has_single && !single.password.empty()) {
    out.users.push_back(std::move(single));
  }
  if (!has_users) {
    if (!has_single) {
      m.report_at(m.line(""), m.path(),
                  "set password_env or password_file (one password), or users (names and "
                  "passwords)");
    }
    return;
  }
  std::map<std::string, int, std::less<>> name_lines;
  std::vector<AuthUser> users;
  const bool ok = m.list("users", [&](MapBinder& u, std::size_t) {
    AuthUser user;
    u.string("name", user.name, check_user_name, Presence::Required);
    if (!bind_password(u, user.password, env, file) && u.is_map()) {
      u.report_at(u.line(""), u.path(), "needs password_env or password_file");
    }
    if (!user.name.empty()) {
      const auto [it, inserted] = name_lines.emplace(user.name, u.line("name"));
      if (!inserted) {
        u.error("name", "duplicate user name \"" + user.name + "\" (first at line " +
                            std::to_string(it->second) + ")");
      }
    }
    users.push_back(std::move(user));
  });
  if (ok && users.empty()) {
    m.error("users", "at least one user is required");
  }
  if (!has_single) {
    out.users = std::move(users);
  }
}

// Names resolve against the command table; they are stored lowercase.
void bind_deny_commands(MapBinder& root, std::vector<std::string>& out) {
  root.strings("deny_commands", out, [](std::string_view name) -> std::string {
    if (command::lookup_name(name) != nullptr) {
      return {};
    }
    const std::size_t bar = name.find('|');
    const command::CommandInfo* container =
        bar == std::string_view::npos ? nullptr : command::lookup(name.substr(0, bar));
    if (container != nullptr && container->subcommands.empty()) {
      return "\"" + std::string(name.substr(0, bar)) + "\" has no subcommands";
    }
    if (container != nullptr) {
      return "unknown subcommand \"" + std::string(name) + "\" (write the container alone, \"" +
             std::string(name.substr(0, bar)) + "\", to deny all of its subcommands)";
    }
    return "unknown command \"" + std::string(name) + "\"";
  });
  for (std::string& name : out) {
    std::transform(name.begin(), name.end(), name.begin(), util::ascii_lower);
  }
}

void bind_introspection(MapBinder& m, IntrospectionConfig& out) {
  m.choice("client_list", out.client_list,
           {Choice<AnsweredBy>{"upstream", AnsweredBy::Upstream},
            Choice<AnsweredBy>{"seawall", AnsweredBy::Seawall}});
  m.choice("info", out.info,
           {Choice<InfoMode>{"merged", InfoMode::Merged},
            Choice<InfoMode>{"upstream", InfoMode::Upstream},
            Choice<InfoMode>{"seawall", InfoMode::Seawall}});
}

// Error lines go to clients as they are written: one line of printable text, so that no client
// parser is thrown off by what was meant as a rehearsal.
std::string check_fault_message(std::string_view text) {
  if (text.empty()) {
    return "must not be empty (leave it out for the default, \"ERR seawall injected fault\")";
  }
  for (char c : text) {
    if (c < ' ' || c > '~') {
      return "may contain only printable ASCII characters on one line";
    }
  }
  return {};
}

// A command name of `commands`, known to the command table (as in deny_commands).
std::string check_fault_command(std::string_view name) {
  if (command::lookup_name(name) != nullptr) {
    return {};
  }
  return "unknown command \"" + std::string(name) + "\"";
}

void bind_fault(MapBinder& m, fault::FaultConfig& out,
                const std::vector<UpstreamConfig>& upstreams) {
  const bool type_ok = m.choice("type", out.type,
                                {Choice<fault::FaultType>{"delay", fault::FaultType::Delay},
                                 Choice<fault::FaultType>{"error", fault::FaultType::Error}},
                                Presence::Required);
  // A delay of 0 would be a fault that does nothing; more than a day is a typo.
  m.duration("delay", out.delay, kPositive);
  m.scalar("percent", "a percentage", real_in(out.percent, 0.0, 100.0), Presence::Required);
  m.strings("commands", out.commands, check_fault_command);
  for (std::string& name : out.commands) {
    std::transform(name.begin(), name.end(), name.begin(), util::ascii_lower);
  }
  if (m.string("upstream", out.upstream, check_upstream_name) && !out.upstream.empty()) {
    const auto it = std::find_if(upstreams.begin(), upstreams.end(),
                                 [&](const UpstreamConfig& u) { return u.name == out.upstream; });
    if (it == upstreams.end()) {
      m.error("upstream", "no upstream named \"" + out.upstream + "\"");
    } else {
      out.upstream_index = static_cast<std::size_t>(it - upstreams.begin());
    }
  }
  m.string("message", out.message, check_fault_message);
  if (!type_ok || !m.has("type")) {
    return;
  }
  if (out.type == fault::FaultType::Delay) {
    if (!m.has("delay")) {
      m.error("delay", "is required for type: delay");
    }
    if (m.has("message")) {
      m.error("message", "applies only to type: error");
    }
  } else if (m.has("delay")) {
    m.error("delay", "applies only to type: delay");
  }
}

bool is_wildcard(const std::string& address) { return address == "0.0.0.0" || address == "::"; }

// The admin server and the Redis listener would bind one port on overlapping addresses: one of
// them would fail at startup with "address in use", so say so at load instead.
bool admin_port_conflicts(const Config& config) {
  const AdminConfig& admin = config.admin;
  const ListenConfig& listen = config.listen;
  return admin.enabled && admin.port == listen.port &&
         (admin.address == listen.address || is_wildcard(admin.address) ||
          is_wildcard(listen.address));
}

void bind_config(MapBinder& root, Config& config) {
  root.map("listen", [&](MapBinder& m) { bind_listen(m, config.listen); });
  root.uint("threads", config.threads, 1, kMaxThreads);
  bind_upstreams(root, config.upstreams);
  bind_routes(root, config);
  root.map("cache", [&](MapBinder& m) { bind_cache(m, config.cache); });
  root.map("protect_database",
           [&](MapBinder& m) { bind_protect_database(m, config.protect_database); });
  root.map("journal", [&](MapBinder& m) { bind_journal(m, config.journal); });
  root.list("policies", [&](MapBinder& m, std::size_t) {
    config.policies.emplace_back();
    bind_policy(m, config.policies.back());
  });
  root.map("limits", [&](MapBinder& m) { bind_limits(m, config.limits); });
  root.map("log", [&](MapBinder& m) { bind_log(m, config.log); });
  root.map("shutdown", [&](MapBinder& m) { bind_shutdown(m, config.shutdown); });
  root.map("auth", [&](MapBinder& m) { bind_auth(m, config.auth); });
  bind_deny_commands(root, config.deny_commands);
  root.map("introspection", [&](MapBinder& m) { bind_introspection(m, config.introspection); });
  root.list("faults", [&](MapBinder& m, std::size_t) {
    bind_fault(m, config.faults.emplace_back(), config.upstreams);
  });
  const std::string conflict =
      "port " + std::to_string(config.listen.port) + " is also the listen port (listen.port)";
  if (root.has("admin")) {
    root.map("admin", [&](MapBinder& m) {
      bind_admin(m, config.admin);
      if (admin_port_conflicts(config)) {
        m.error(m.has("port") ? "port" : "address", conflict);
      }
    });
  } else if (admin_port_conflicts(config)) {
    root.error("admin",
               "the default admin " + conflict + "; set admin.port, or admin.enabled: false");
  }
  root.finish();
}

// Where each YAML document's first node is, from parser events, without building nodes.
// YAML::LoadAll is not used: for some malformed streams, "," for one, yaml-cpp 0.7 (Debian 12's)
// returns an endless run of empty documents (jbeder/yaml-cpp#1040, fixed upstream in 2024 by
// #1319; found here by tests/fuzz/config_loader_fuzz), and LoadAll allocates until the process
// is killed. Such a document starts where the one before it did, since the parser consumed
// nothing: that is a syntax error, and the scan stops there.
struct DocumentScan {
  std::vector<YAML::Mark> starts;  // the first node of each document
  bool stalled = false;            // the last start repeats the one before it
};

DocumentScan scan_documents(const std::string& text) {
  class FirstNodes final : public YAML::EventHandler {
   public:
    explicit FirstNodes(std::vector<YAML::Mark>& starts) : starts_(starts) {}

    // YAML::EventHandler
    void OnDocumentStart(const YAML::Mark& /*mark*/) override { want_ = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  const std::string& /*value*/) override {
      node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                         YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
      node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                    YAML::EmitterStyle::value /*style*/) override {
      node(mark);
    }
    void OnMapEnd() override {}

   private:
    void node(const YAML::Mark& mark) {
      if (want_) {
        starts_.push_back(mark);
        want_ = false;
      }
    }
    std::vector<YAML::Mark>& starts_;
    bool want_ = false;
  };

  DocumentScan scan;
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  FirstNodes handler(scan.starts);
  while (parser.HandleNextDocument(handler)) {
    const std::size_t n = scan.starts.size();
    if (n >= 2 && scan.starts[n - 1].pos == scan.starts[n - 2].pos) {
      scan.stalled = true;
      break;
    }
  }
  return scan;
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& source_name) {
  LoadResult result;
  detail::Diagnostics diagnostics(source_name);
  try {
    const std::string yaml(text);
    const DocumentScan scan = scan_documents(yaml);
    if (scan.stalled) {
      diagnostics.add(detail::line_of(scan.starts.back()), "", "invalid YAML: unknown token");
    } else if (scan.starts.size() > 1) {
      diagnostics.add(detail::line_of(scan.starts[1]), "", "only one YAML document is allowed");
    } else {
      Config config;
      config.source_path = source_name;
      // The scan has checked the syntax of the one document, so this parse cannot stall.
      const YAML::Node root = scan.starts.empty() ? YAML::Node() : YAML::Load(yaml);
      MapBinder binder(root, "", 1, diagnostics);
      bind_config(binder, config);
      if (diagnostics.empty()) {
        result.config = std::move(config);
      }
    }
  } catch (const YAML::Exception& e) {
    diagnostics.add(detail::line_of(e.mark), "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    diagnostics.add(0, "", std::string("cannot load: ") + e.what());
  }
  result.errors = diagnostics.take();
  return result;
}

LoadResult load_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: is a directory");
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::error_code open_error(errno, std::generic_category());
    LoadResult result;
    result.errors.push_back(path + ": cannot read: " + open_error.message());
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: I/O error");
    return result;
  }
  return load_string(text.str(), path);
}

}  // namespace seawall::config
