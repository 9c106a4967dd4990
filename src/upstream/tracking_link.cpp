#include "seawall/upstream/tracking_link.hpp"

#include <array>
#include <charconv>

#include "seawall/command/sent.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/connect.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

// The next CRLF-terminated line at `pos` (without its CRLF); advances `pos` past it.
bool next_line(std::string_view bytes, std::size_t& pos, std::string_view& line) {
  const std::size_t end = bytes.find("\r\n", pos);
  if (end == std::string_view::npos) {
    return false;
  }
  line = bytes.substr(pos, end - pos);
  pos = end + 2;
  return true;
}

bool count_of(std::string_view line, std::int64_t& n) {
  const auto [end, ec] = std::from_chars(line.data() + 1, line.data() + line.size(), n);
  return ec == std::errc() && end == line.data() + line.size();
}

// A bulk string at `pos`.
bool next_bulk(std::string_view bytes, std::size_t& pos, std::string_view& out) {
  std::string_view header;
  std::int64_t n = 0;
  if (!next_line(bytes, pos, header) || header.empty() || header[0] != '$' ||
      !count_of(header, n) || n < 0 || pos + static_cast<std::size_t>(n) + 2 > bytes.size()) {
    return false;
  }
  out = bytes.substr(pos, static_cast<std::size_t>(n));
  pos += static_cast<std::size_t>(n) + 2;
  return true;
}

}  // namespace

bool decode_invalidation(std::string_view bytes, Invalidation& out) {
  out.all = false;
  out.keys.clear();
  std::size_t pos = 0;
  std::string_view line;
  std::int64_t n = 0;
  std::string_view kind;
  if (!next_line(bytes, pos, line) || line.empty() || line[0] != '>' || !count_of(line, n) ||
      n != 2 || !next_bulk(bytes, pos, kind) || kind != "invalidate" ||
      !next_line(bytes, pos, line) || line.empty()) {
    return false;
  }
  if (line == "_" || line == "*-1") {
    out.all = true;
    return true;
  }
  if (line[0] != '*' || !count_of(line, n) || n < 0) {
    return false;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!next_bulk(bytes, pos, key)) {
      return false;
    }
    out.keys.push_back(key);
  }
  return true;
}

std::string tracking_command(const std::vector<std::string>& prefixes) {
  std::vector<std::string_view> args{command::sent::kClient, command::sent::kTracking,
                                     command::sent::kOn, command::sent::kBcast};
  for (const std::string& prefix : prefixes) {
    if (prefix.empty()) {
      continue;  // every key: BCAST without a prefix
    }
    args.push_back(command::sent::kPrefix);
    args.push_back(prefix);
  }
  std::string out;
  resp::append_command(out, args);
  return out;
}

TrackingLink::TrackingLink(asio::any_io_executor ex, const UpstreamConfig& config,
                           std::vector<std::string> prefixes, Hooks hooks)
    : ex_(ex),
      config_(config),
      prefixes_(std::move(prefixes)),
      hooks_(std::move(hooks)),
      stream_(ex),
      retry_(ex),
      gate_(ex),
      write_signal_(ex),
      stall_signal_(ex) {
  gate_.expires_at(asio::steady_timer::time_point::max());
}

void TrackingLink::start() {
  asio::co_spawn(
      ex_, [self = shared_from_this()] { return self->run(); },
      util::on_coroutine_done("upstream", "tracking link"));
}

void TrackingLink::stop() {
  stopped_ = true;
  stream_.close();
  retry_.cancel();
  lost();
}

void TrackingLink::lost() {
  if (subscribed_ && hooks_.state) {
    hooks_.state(false);
  }
  subscribed_ = false;
  stalled_ = false;
  ++generation_;  // waiters of this connection give up; its writer and watch end
  sent_at_.clear();
  answered_at_ = {};
  out_.clear();
  gate_.cancel();
  write_signal_.notify();
  stall_signal_.notify();
}

awaitable<bool> TrackingLink::barrier(Clock::time_point arrived) {
  if (!live()) {
    co_return false;
  }
  if (answered_at_ >= arrived) {
    co_return true;
  }
  const std::uint64_t generation = generation_;
  // The first PING in flight queued after the read arrived, else the next one.
  std::uint64_t ticket = queued_ + 1;
  for (std::size_t i = 0; i < sent_at_.size(); ++i) {
    if (sent_at_[i] >= arrived) {
      ticket = done_ + 1 + i;
      break;
    }
  }
  wanted_ = std::max(wanted_, ticket);
  if (ticket > queued_ && !ping_posted_) {
    // After the handlers already due on this thread (other sessions' reads of this turn), so
    // that one PING serves them all.
    ping_posted_ = true;
    asio::post(ex_, [self = shared_from_this()] { self->queue_ping(); });
  }
  auto self = shared_from_this();
  while (done_ < ticket) {
    co_await gate_.async_wait(use_nothrow);
    if (generation != generation_ || !live()) {
      co_return false;
    }
  }
  co_return true;
}

void TrackingLink::queue_ping() {
  ping_posted_ = false;
  if (!subscribed_ || wanted_ <= queued_) {
    return;
  }
  ++queued_;
  out_.append(command::sent::kPingRequest);
  sent_at_.push_back(Clock::now());
  write_signal_.notify();
  stall_signal_.notify();
}

awaitable<void> TrackingLink::run() {
  auto log = util::logger("upstream");
  while (!stopped_) {
    const std::string why = co_await track_once();
    stream_.close();
    const bool was_subscribed = subscribed_;
    lost();
    if (stopped_) {
      break;
    }
    if (was_subscribed) {
      logged_ = false;  // a new outage: say so again
    }
    if (!logged_) {
      log->warn(
          "upstream={} tracking link: {}; near reads go to Redis meanwhile, retrying every {}ms",
          config_.name, why, kRetry.count());
      logged_ = true;
    }
    retry_.expires_after(kRetry);
    co_await retry_.async_wait(use_nothrow);
  }
}

awaitable<std::string> TrackingLink::subscribe() {
  std::string request;
  const std::array<std::string_view, 3> setname{command::sent::kClient, command::sent::kSetname,
                                                kTrackingClientName};
  resp::append_command(request, setname);
  request += tracking_command(prefixes_);
  if (auto [ec, n] = co_await stream_.async_write(asio::buffer(request)); ec) {
    co_return "cannot subscribe: " + ec.message();
  }
  // Two replies, +OK each; anything after them (pushes) stays in received_.
  resp::ReplyFramer framer;
  std::array<char, 4096> chunk{};
  for (int replies = 0; replies < 2;) {
    resp::FramedReply framed;
    const resp::errc e = framer.feed(received_, framed);
    if (e == resp::errc::ok) {
      if (framed.type != '+') {
        co_return "CLIENT TRACKING refused: " +
            received_.substr(
                1, received_.find("\r\n") == std::string::npos ? 0 : received_.find("\r\n") - 1);
      }
      received_.erase(0, framed.length);
      framer.reset();
      ++replies;
      continue;
    }
    if (e != resp::errc::need_more) {
      co_return "unexpected reply to CLIENT TRACKING";
    }
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk));
    if (ec) {
      co_return "connection lost: " + ec.message();
    }
    received_.append(chunk.data(), n);
  }
  co_return "";
}

awaitable<std::string> TrackingLink::track_once() {
  received_.clear();
  const ConnectResult connected = co_await connect_upstream(ex_, config_, stream_, Protocol::Resp3);
  if (!connected.ok) {
    co_return "connect failed: " + connected.error;
  }
  if (std::string error = co_await subscribe(); !error.empty()) {
    co_return error;
  }
  if (stopped_) {
    co_return "stopped";
  }
  // Entries filled from here on are covered by this subscription's invalidations.
  epoch_ = hooks_.subscribed ? hooks_.subscribed() : 0;
  subscribed_ = true;
  stalled_ = false;
  const std::uint64_t generation = ++generation_;
  queued_ = done_ = wanted_ = 0;
  answered_at_ = {};
  if (hooks_.state) {
    hooks_.state(true);
  }
  util::logger("upstream")
      ->info("upstream={} tracking link subscribed at {} ({} prefixes)", config_.name,
             connected.address.to_string(), prefixes_.size());
  auto self = shared_from_this();
  asio::co_spawn(
      ex_, [self, generation] { return self->write_loop(generation); },
      util::on_coroutine_done("upstream", "tracking link writer"));
  asio::co_spawn(
      ex_, [self, generation] { return self->stall_watch(generation); },
      util::on_coroutine_done("upstream", "tracking link watch"));
  if (!consume()) {
    co_return "unexpected message";
  }
  std::array<char, 16384> chunk{};
  while (!stopped_) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk));
    if (ec) {
      co_return "connection lost: " + ec.message();
    }
    received_.append(chunk.data(), n);
    if (!consume()) {
      co_return "unexpected message";
    }
  }
  co_return "stopped";
}

bool TrackingLink::consume() {
  thread_local resp::ReplyFramer framer;
  thread_local Invalidation invalidation;
  std::size_t used = 0;
  bool ponged = false;
  while (used < received_.size()) {
    framer.reset();
    resp::FramedReply framed;
    const std::string_view rest = std::string_view(received_).substr(used);
    const resp::errc e = framer.feed(rest, framed);
    if (e == resp::errc::need_more) {
      break;
    }
    if (e != resp::errc::ok) {
      return false;
    }
    const std::string_view frame = rest.substr(0, framed.length);
    if (framed.type == '>') {
      if (decode_invalidation(frame, invalidation)) {
        if (invalidation.all) {
          hooks_.invalidate_all();
        } else {
          for (std::string_view key : invalidation.keys) {
            hooks_.invalidate(key);
          }
        }
      }
    } else if (framed.type == '+' && !sent_at_.empty()) {
      // A PONG: every invalidation Redis sent before it has been applied above.
      answered_at_ = sent_at_.front();
      sent_at_.erase(sent_at_.begin());
      ++done_;
      ponged = true;
    } else {
      return false;
    }
    used += framed.length;
  }
  received_.erase(0, used);
  if (ponged) {
    stalled_ = false;
    gate_.cancel();
  }
  return true;
}

awaitable<void> TrackingLink::write_loop(std::uint64_t generation) {
  auto self = shared_from_this();
  std::string writing;
  while (generation == generation_ && !stopped_) {
    if (out_.empty()) {
      co_await write_signal_.wait();
      continue;
    }
    writing.swap(out_);
    out_.clear();
    auto [ec, n] = co_await stream_.async_write(asio::buffer(writing));
    writing.clear();
    if (ec) {
      stream_.close();  // the reader sees it and reconnects
      co_return;
    }
  }
}

awaitable<void> TrackingLink::stall_watch(std::uint64_t generation) {
  auto self = shared_from_this();
  asio::steady_timer timer(ex_);
  while (generation == generation_ && !stopped_) {
    if (sent_at_.empty()) {
      co_await stall_signal_.wait();
      continue;
    }
    const Clock::time_point due = sent_at_.front() + kStall;
    if (Clock::now() >= due) {
      if (!stalled_) {
        stalled_ = true;
        gate_.cancel();  // waiters answer without a near hit
      }
      timer.expires_after(kStall);
    } else {
      timer.expires_at(due);
    }
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace seawall::upstream
