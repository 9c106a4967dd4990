#include "seawall/util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace seawall::util {
namespace {

std::mutex g_mutex;
std::shared_ptr<spdlog::sinks::sink> g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;
bool g_json = false;

// %* in a pattern: the message as the inside of a JSON string, so that a quote, a backslash or
// a control byte in a message (a key name, an error from Redis) cannot break the JSON line.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char escape[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        dest.append(escape, escape + sizeof(escape));
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

void apply_format(spdlog::logger& l) {
  if (g_json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":"%*"})");
    l.set_formatter(std::move(formatter));
  } else {
    l.set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  }
}

}  // namespace

void init_logging(const std::string& level, bool json) {
  std::lock_guard lock(g_mutex);
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  g_level = spdlog::level::from_str(level);
  g_json = json;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(g_level);
    apply_format(*l);
  });
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto l = std::make_shared<spdlog::logger>(name, g_sink);
  l->set_level(g_level);
  apply_format(*l);
  spdlog::register_logger(l);
  return l;
}

bool LogRateLimiter::allow(std::uint64_t& suppressed) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t start = window_start_.load(std::memory_order_relaxed);
  if (now - start >= interval_ns_ &&
      window_start_.compare_exchange_strong(start, now, std::memory_order_relaxed)) {
    in_window_.store(0, std::memory_order_relaxed);
  }
  if (in_window_.fetch_add(1, std::memory_order_relaxed) < per_interval_) {
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace seawall::util
