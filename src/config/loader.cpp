#include "seawall/config/loader.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "config/binder.hpp"
#include "config/units.hpp"

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
  root.map("limits", [&](MapBinder& m) { bind_limits(m, config.limits); });
  root.map("log", [&](MapBinder& m) { bind_log(m, config.log); });
  root.map("shutdown", [&](MapBinder& m) { bind_shutdown(m, config.shutdown); });
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

}  // namespace

LoadResult load_string(std::string_view text, const std::string& source_name) {
  LoadResult result;
  detail::Diagnostics diagnostics(source_name);
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    if (documents.size() > 1) {
      diagnostics.add(detail::line_of(documents[1].Mark()), "",
                      "only one YAML document is allowed");
    } else {
      Config config;
      config.source_path = source_name;
      const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
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
