#pragma once
// MONITOR answered by seawall. Redis's own MONITOR shows seawall's shared connections (its
// addresses, every client's commands mixed on them) and seawall's own traffic (health-check
// PINGs, HELLO on connect, cache repairs). So sessions feed the commands of the application's
// clients here, as Redis would show them, and a MONITOR session watches this hub instead of
// pinning a connection to Redis: each line carries the client's own address and database.
//
// Ownership: one per process, in SharedState; watchers are held weakly and remove themselves.
// Thread safety: any thread. A command pays one relaxed load while nobody watches; a line is
// posted to each watcher's own thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"

namespace seawall::proxy {

class MonitorSink {
 public:
  virtual ~MonitorSink() = default;
  // One complete line ("+...\r\n"), on the sink's own thread.
  virtual void on_monitor_line(std::string_view line) = 0;
};

class MonitorHub {
 public:
  bool watched() const { return watchers_.load(std::memory_order_relaxed) > 0; }
  // `key` identifies the watcher for remove (its address).
  void add(const void* key, std::weak_ptr<MonitorSink> sink, asio::any_io_executor executor);
  void remove(const void* key);
  // Sends `line` to every watcher but `from` (a MONITOR client does not see its own commands).
  void publish(const void* from, const std::string& line);

 private:
  struct Watcher {
    const void* key;
    std::weak_ptr<MonitorSink> sink;
    asio::any_io_executor executor;
  };
  std::mutex mutex_;
  std::vector<Watcher> list_;
  std::atomic<std::size_t> watchers_{0};
};

// Whether Redis shows `info` in MONITOR (not admin, not skip_monitor: AUTH, CONFIG, ...).
bool monitor_shows(const command::CommandInfo& info);

// The line Redis's MONITOR sends for a command: +<seconds>.<microseconds> [<db> <addr>] "arg"
// ..., each argument quoted and escaped as Redis's sdscatrepr does.
std::string format_monitor_line(std::chrono::system_clock::time_point when, std::int64_t db,
                                std::string_view addr, std::span<const std::string_view> args);

}  // namespace seawall::proxy
