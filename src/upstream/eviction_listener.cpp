#include "seawall/upstream/eviction_listener.hpp"

#include <array>

#include "seawall/command/sent.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/upstream/connect.hpp"
#include "seawall/upstream/sentinel_replies.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

std::string command(std::initializer_list<std::string_view> args) {
  std::string out;
  resp::append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
  return out;
}

}  // namespace

std::string with_eviction_events(std::string_view current) {
  // `A` is every event class but `m` and `n`: `evicted` (class `e`) among them.
  const bool has_class =
      current.find('e') != std::string_view::npos || current.find('A') != std::string_view::npos;
  std::string out(current);
  if (out.find('E') == std::string::npos) {
    out += 'E';
  }
  if (!has_class) {
    out += 'e';
  }
  return out;
}

EvictionListener::EvictionListener(asio::any_io_executor ex, const UpstreamConfig& config,
                                   bool configure, OnEvicted on_evicted)
    : ex_(ex),
      config_(config),
      configure_(configure),
      on_evicted_(std::move(on_evicted)),
      stream_(ex),
      retry_(ex) {}

void EvictionListener::start() {
  asio::co_spawn(
      ex_, [self = shared_from_this()] { return self->run(); },
      util::on_coroutine_done("upstream", "eviction listener"));
}

void EvictionListener::stop() {
  stopped_ = true;
  stream_.close();
  retry_.cancel();
}

awaitable<void> EvictionListener::run() {
  auto log = util::logger("upstream");
  bool logged = false;
  while (!stopped_) {
    const std::string why = co_await listen_once();
    stream_.close();
    if (stopped_) {
      break;
    }
    if (subscribed_) {
      logged = false;  // a new outage: say so again
      subscribed_ = false;
    }
    if (!logged && !spare_shard(config_)) {
      // Once per outage: the listener retries every second while Redis is away (a spare
      // cluster shard has nothing to listen to yet: not an outage).
      log->warn("upstream={} eviction events: {}; retrying every {}s", config_.name, why,
                kRetry.count());
      logged = true;
    }
    retry_.expires_after(kRetry);
    co_await retry_.async_wait(use_nothrow);
  }
}

awaitable<std::string> EvictionListener::configure_events() {
  // A reply of ours at a time: CONFIG GET's array, then CONFIG SET's status line.
  const std::string get =
      command({command::sent::kConfig, command::sent::kConfigGet, "notify-keyspace-events"});
  if (auto [ec, n] = co_await stream_.async_write(asio::buffer(get)); ec) {
    co_return "CONFIG GET: " + ec.message();
  }
  std::array<char, 512> chunk{};
  std::string reply;
  PubSubFrame frame;
  while (true) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk));
    if (ec) {
      co_return "CONFIG GET: " + ec.message();
    }
    reply.append(chunk.data(), n);
    if (reply.front() == '-') {
      if (reply.find("\r\n") == std::string::npos) {
        continue;
      }
      co_return "CONFIG GET refused: " + reply.substr(1, reply.find("\r\n") - 1);
    }
    frame = parse_pubsub_frame(reply);
    if (frame.status == ParseStatus::NeedMore) {
      continue;
    }
    if (frame.status == ParseStatus::Invalid || frame.elements.size() != 2) {
      co_return "CONFIG GET: unexpected reply";
    }
    break;
  }
  const std::string wanted = with_eviction_events(frame.elements[1]);
  if (wanted == frame.elements[1]) {
    co_return "";
  }
  const std::string set = command(
      {command::sent::kConfig, command::sent::kConfigSet, "notify-keyspace-events", wanted});
  if (auto [ec, n] = co_await stream_.async_write(asio::buffer(set)); ec) {
    co_return "CONFIG SET: " + ec.message();
  }
  reply.clear();
  while (reply.find("\r\n") == std::string::npos) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk));
    if (ec) {
      co_return "CONFIG SET: " + ec.message();
    }
    reply.append(chunk.data(), n);
  }
  if (reply.front() != '+') {
    co_return "CONFIG SET refused: " + reply.substr(1, reply.find("\r\n") - 1);
  }
  util::logger("upstream")
      ->info("upstream={} notify-keyspace-events set to \"{}\" (was \"{}\")", config_.name, wanted,
             frame.elements[1]);
  co_return "";
}

awaitable<std::string> EvictionListener::listen_once() {
  const ConnectResult connected = co_await connect_upstream(ex_, config_, stream_);
  if (!connected.ok) {
    co_return "connect failed: " + connected.error;
  }
  if (configure_) {
    if (std::string error = co_await configure_events(); !error.empty()) {
      co_return error;
    }
  }
  const std::string subscribe = command({command::sent::kSubscribe, kEvictedChannel});
  if (auto [ec, n] = co_await stream_.async_write(asio::buffer(subscribe)); ec) {
    co_return "cannot subscribe: " + ec.message();
  }
  subscribed_ = true;
  util::logger("upstream")
      ->info("upstream={} subscribed to {} at {}", config_.name, kEvictedChannel,
             connected.address.to_string());
  received_.clear();
  std::array<char, 4096> chunk{};
  while (!stopped_) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk));
    if (ec) {
      co_return "connection lost: " + ec.message();
    }
    received_.append(chunk.data(), n);
    std::size_t used = 0;
    while (used < received_.size()) {
      const PubSubFrame frame = parse_pubsub_frame(std::string_view(received_).substr(used));
      if (frame.status == ParseStatus::NeedMore) {
        break;
      }
      if (frame.status == ParseStatus::Invalid) {
        co_return "unexpected message";
      }
      const auto& e = frame.elements;
      if (e.size() == 3 && e[0] == "message" && e[1] == kEvictedChannel) {
        on_evicted_(e[2]);
      }
      used += frame.length;
    }
    received_.erase(0, used);
  }
  co_return "stopped";
}

}  // namespace seawall::upstream
