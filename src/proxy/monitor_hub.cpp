#include "seawall/proxy/monitor_hub.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace seawall::proxy {

void MonitorHub::add(const void* key, std::weak_ptr<MonitorSink> sink,
                     asio::any_io_executor executor) {
  const std::lock_guard lock(mutex_);
  list_.push_back(Watcher{key, std::move(sink), std::move(executor)});
  watchers_.store(list_.size(), std::memory_order_relaxed);
}

void MonitorHub::remove(const void* key) {
  const std::lock_guard lock(mutex_);
  std::erase_if(list_, [key](const Watcher& w) { return w.key == key; });
  watchers_.store(list_.size(), std::memory_order_relaxed);
}

void MonitorHub::publish(const void* from, const std::string& line) {
  const std::lock_guard lock(mutex_);
  for (const Watcher& w : list_) {
    if (w.key == from) {
      continue;
    }
    asio::post(w.executor, [sink = w.sink, line] {
      if (const auto s = sink.lock()) {
        s->on_monitor_line(line);
      }
    });
  }
}

bool monitor_shows(const command::CommandInfo& info) {
  return !info.has(command::kAdmin) && !info.has(command::kSkipMonitor);
}

std::string format_monitor_line(std::chrono::system_clock::time_point when, std::int64_t db,
                                std::string_view addr, std::span<const std::string_view> args) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  std::array<char, 48> stamp{};
  const int n = std::snprintf(stamp.data(), stamp.size(), "+%lld.%06lld [%lld ",
                              static_cast<long long>(micros / 1000000),
                              static_cast<long long>(micros % 1000000), static_cast<long long>(db));
  std::string out(stamp.data(), static_cast<std::size_t>(std::max(n, 0)));
  out.append(addr).append("]");
  for (std::string_view arg : args) {
    out.append(" \"");
    for (const char c : arg) {
      switch (c) {
        case '\\':
          out.append("\\\\");
          break;
        case '"':
          out.append("\\\"");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\a':
          out.append("\\a");
          break;
        case '\b':
          out.append("\\b");
          break;
        default: {
          const auto u = static_cast<unsigned char>(c);
          if (u >= 0x20 && u < 0x7f) {
            out.push_back(c);
          } else {
            std::array<char, 5> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02x", u);
            out.append(hex.data(), 4);
          }
        }
      }
    }
    out.push_back('"');
  }
  out.append("\r\n");
  return out;
}

}  // namespace seawall::proxy
