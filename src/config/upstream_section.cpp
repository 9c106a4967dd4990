// The `upstreams:` section: each upstream's address, pool, deadlines, breaker, health check, AUTH
// and TLS (whose context is built here, so that a bad CA or key file is a config error).
#include <arpa/inet.h>

#include <charconv>
#include <map>

#include "config/secret.hpp"
#include "config/sections.hpp"
#include "config/units.hpp"
#include "seawall/upstream/tls_build.hpp"

namespace seawall::config::detail {
namespace {

constexpr std::uint32_t kMaxConnectionsPerThread = 64;
// Each spare shard is an internal upstream (pools, breaker, health check): a few are enough to
// add masters between restarts.
constexpr std::uint32_t kMaxSpareShards = 64;

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

}  // namespace

std::string check_ip_literal(std::string_view text) {
  const std::string address(text);
  if (is_ipv4(address) || is_ipv6(address)) {
    return {};
  }
  return "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1, got \"" + address + "\"";
}

std::string canonical_ip(std::string_view text) {
  const std::string address(text);
  char out[INET6_ADDRSTRLEN] = {};
  if (in_addr v4{}; inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return inet_ntop(AF_INET, &v4, out, sizeof out) != nullptr ? out : "";
  }
  if (in6_addr v6{}; inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    return inet_ntop(AF_INET6, &v6, out, sizeof out) != nullptr ? out : "";
  }
  return {};
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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

// A password named by `password_env` or `password_file`, exactly one of them. Returns false,
// having reported nothing, when neither is set.
// `env` and `file` receive the names given.
bool bind_password(MapBinder& m, std::string& out, std::string& env, std::string& file) {
  const bool env_ok = m.string("password_env", env, check_env_name);
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
    const std::string problem = secret_from_env(env, out);
    if (!problem.empty()) {
      m.error("password_env", problem);
    }
  } else if (has_file && file_ok) {
    const std::string problem = secret_from_file(file, out);
    if (!problem.empty()) {
      m.error("password_file", problem);
    }
  }
  return true;
}

namespace {

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
// `cluster_nodes`: the upstream is a cluster, whose nodes' addresses are learned at run time,
// so the certificate's name must be given (`server_name`) unless it is not checked.
void bind_tls(MapBinder& m, UpstreamTlsConfig& out, const std::string& host, bool cluster_nodes) {
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
  if (ok && out.enabled && cluster_nodes && out.verify && out.server_name.empty()) {
    m.error("server_name",
            "required with cluster (the nodes' addresses are learned from the cluster, so the "
            "certificates' name must be given), or set verify: false");
    return;
  }
  if (!ok || !out.enabled || (host.empty() && !cluster_nodes)) {
    return;
  }
  upstream::TlsBuild built = upstream::build_tls_context(out, host);
  if (built.context == nullptr) {
    m.error(built.error_key, built.error);
    return;
  }
  out.context = std::move(built.context);
}

// `sentinel:` (in place of `address:`): the sentinels, the master's name, their AUTH.
void bind_sentinel(MapBinder& m, SentinelConfig& out) {
  std::vector<std::string> addresses;
  const bool list_ok = m.strings(
      "sentinels", addresses,
      [](std::string_view text) {
        std::string host;
        std::uint16_t port = 0;
        return parse_host_port(text, host, port);
      },
      Presence::Required);
  if (list_ok && m.has("sentinels")) {
    if (addresses.empty()) {
      m.error("sentinels", "at least one sentinel is required");
    }
    for (const std::string& text : addresses) {
      SentinelAddress& address = out.sentinels.emplace_back();
      parse_host_port(text, address.host, address.port);
    }
  }
  m.string(
      "master", out.master,
      [](std::string_view text) {
        if (text.empty()) {
          return std::string("must not be empty");
        }
        for (const char c : text) {
          if (c == ' ' || c == '\r' || c == '\n' || c == '\t') {
            return "must not contain white space, got \"" + std::string(text) + "\"";
          }
        }
        return std::string();
      },
      Presence::Required);
  m.map("auth", [&](MapBinder& a) { bind_auth(a, out.auth); });
}

// `cluster:` (in place of `address:`): some nodes of the cluster, asked for its slot map.
void bind_cluster(MapBinder& m, ClusterConfig& out) {
  std::vector<std::string> addresses;
  const bool list_ok = m.strings(
      "seeds", addresses,
      [](std::string_view text) {
        std::string host;
        std::uint16_t port = 0;
        return parse_host_port(text, host, port);
      },
      Presence::Required);
  if (list_ok && m.has("seeds")) {
    if (addresses.empty()) {
      m.error("seeds", "at least one seed node is required");
    }
    for (const std::string& text : addresses) {
      SentinelAddress& address = out.seeds.emplace_back();
      parse_host_port(text, address.host, address.port);
    }
  }
  m.choice("read_from", out.read_from,
           {Choice<upstream::ReadFrom>{"primary", upstream::ReadFrom::Primary},
            Choice<upstream::ReadFrom>{"prefer_replica", upstream::ReadFrom::PreferReplica}});
  m.uint("spare_shards", out.spare_shards, 0, kMaxSpareShards);
}

void bind_upstream(MapBinder& m, UpstreamConfig& out) {
  m.string("name", out.name, check_upstream_name, Presence::Required);
  // Exactly one of address:, sentinel: and cluster:.
  const bool has_address = m.has("address");
  const bool has_sentinel = m.has("sentinel");
  const bool has_cluster = m.has("cluster");
  if (has_address && has_sentinel) {
    m.error("sentinel", "set either address or sentinel, not both");
  } else if (has_cluster && (has_address || has_sentinel)) {
    m.error("cluster", std::string("set either ") + (has_address ? "address" : "sentinel") +
                           " or cluster, not both");
  } else if (!has_address && !has_sentinel && !has_cluster) {
    m.report_at(m.line(""), join_path(m.path(), "address"),
                "is required (or sentinel, or cluster)");
  }
  m.scalar("address", "host:port",
           [&](std::string_view text) { return parse_host_port(text, out.host, out.port); });
  m.map("sentinel", [&](MapBinder& s) { bind_sentinel(s, out.sentinel); });
  m.map("cluster", [&](MapBinder& c) { bind_cluster(c, out.cluster); });
  if ((has_sentinel || has_cluster) && !has_address) {
    out.host.clear();
    out.port = 0;
  }
  m.uint("connections", out.connections, 1, kMaxConnectionsPerThread);
  m.duration("connect_timeout", out.connect_timeout, kPositive);
  m.duration("request_timeout", out.request_timeout, kPositive);
  const bool min_ok = m.duration("reconnect_backoff_min", out.reconnect_backoff_min, kPositive);
  const bool max_ok = m.duration("reconnect_backoff_max", out.reconnect_backoff_max, kPositive);
  if (min_ok && max_ok && out.reconnect_backoff_max < out.reconnect_backoff_min) {
    if (m.has("reconnect_backoff_max")) {
      m.error("reconnect_backoff_max", "must be >= reconnect_backoff_min (" +
                                           format_duration(out.reconnect_backoff_min) + ")");
    } else {
      m.error("reconnect_backoff_min", "must be <= reconnect_backoff_max (" +
                                           format_duration(out.reconnect_backoff_max) + ")");
    }
  }
  m.uint("max_pending", out.max_pending, 1);
  m.map("breaker", [&](MapBinder& b) { bind_breaker(b, out.breaker); });
  m.map("health_check", [&](MapBinder& h) { bind_health_check(h, out.health_check); });
  m.choice("eviction_events", out.eviction_events,
           {Choice<upstream::EvictionEvents>{"off", upstream::EvictionEvents::Off},
            Choice<upstream::EvictionEvents>{"subscribe", upstream::EvictionEvents::Subscribe},
            Choice<upstream::EvictionEvents>{"configure", upstream::EvictionEvents::Configure}});
  m.duration("recovery_ramp", out.recovery_ramp, Millis{0});
  m.map("auth", [&](MapBinder& a) { bind_auth(a, out.auth); });
  m.map("tls", [&](MapBinder& t) { bind_tls(t, out.tls, out.host, has_cluster); });
  if (has_sentinel && out.tls.enabled) {
    // The certificate name check needs a host known at load; a sentinel names masters later.
    m.error("tls", "tls is not supported together with sentinel yet");
  }
}

}  // namespace

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

}  // namespace seawall::config::detail
