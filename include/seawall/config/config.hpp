#pragma once
// Immutable configuration snapshot. Built by config::load, then passed by const& to constructors.
// Thread safety: immutable after load; share freely.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace seawall::config {

using Millis = std::chrono::milliseconds;

enum class LogFormat { Text, Json };

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 6380;

  bool operator==(const ListenConfig&) const = default;
};

struct UpstreamConfig {
  std::string name;
  std::string host;  // IPv4/IPv6 literal or hostname
  std::uint16_t port = 6379;
  std::uint32_t connections = 2;  // pipelined connections per thread
  Millis connect_timeout{250};
  Millis request_timeout{100};
  Millis reconnect_backoff_min{10};
  Millis reconnect_backoff_max{1000};
  std::uint32_t max_pending = 65536;  // in-flight requests per connection before failing fast

  bool operator==(const UpstreamConfig&) const = default;
};

struct LimitsConfig {
  std::uint32_t max_clients = 10000;
  std::uint64_t max_bulk = 512ull * 1024 * 1024;  // largest bulk string in a request
  std::uint64_t max_array = 1024ull * 1024;       // most elements in a request's multibulk
  std::uint64_t max_inline = 64ull * 1024;        // longest inline command line
  std::uint32_t max_depth = 64;                   // deepest nesting in an upstream reply
  std::uint64_t client_output_buffer = 64ull * 1024 * 1024;  // close the client past this
  std::uint32_t max_pipeline = 16384;  // pending replies per client before reading pauses
  Millis idle_timeout{0};              // 0 = never close idle clients

  bool operator==(const LimitsConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
  LogFormat format = LogFormat::Text;

  bool operator==(const LogConfig&) const = default;
};

struct ShutdownConfig {
  Millis drain_timeout{5000};

  bool operator==(const ShutdownConfig&) const = default;
};

struct AdminConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9380;
  std::uint32_t max_connections = 16;             // admin connections open at once
  std::uint64_t max_request_size = 16ull * 1024;  // request line + headers, and body
  Millis read_timeout{5000};                      // per request, and per response write

  bool operator==(const AdminConfig&) const = default;
};

struct Config {
  std::string source_path;  // file it was loaded from, for messages
  ListenConfig listen;
  std::uint32_t threads = 1;
  std::vector<UpstreamConfig> upstreams;
  LimitsConfig limits;
  LogConfig log;
  ShutdownConfig shutdown;
  AdminConfig admin;

  bool operator==(const Config&) const = default;
};

}  // namespace seawall::config
