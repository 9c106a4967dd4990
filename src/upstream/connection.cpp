#include "seawall/upstream/connection.hpp"

#include "seawall/upstream/connect.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr std::size_t kInitialReadBuffer = 64 * 1024;

util::LogRateLimiter& connect_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 3);
  return limiter;
}

}  // namespace

Connection::Connection(asio::any_io_executor ex, const UpstreamConfig& cfg, std::uint32_t max_depth,
                       const ConnectionMetrics& metrics, Protocol protocol)
    : ex_(ex),
      config_(cfg),
      backoff_min_(cfg.reconnect_backoff_min),
      backoff_max_(cfg.reconnect_backoff_max),
      max_pending_(cfg.max_pending),
      stream_(ex),
      framer_(max_depth),
      fifo_(cfg.request_timeout),
      write_signal_(ex),
      rng_(std::random_device{}()),
      metrics_(metrics),
      protocol_(protocol) {
  rbuf_.resize(kInitialReadBuffer);
}

void Connection::start() {
  asio::co_spawn(
      ex_, [self = shared_from_this()]() { return self->run(); },
      util::on_coroutine_done("upstream", "connection run loop"));
}

void Connection::retire() {
  retiring_ = true;
  stopped_ = true;
  if (fifo_.empty()) {
    link_down();
  }
}

void Connection::stop() {
  stopped_ = true;
  link_down();
}

void Connection::link_down() {
  if (stream_.is_open()) {
    stream_.close();
  }
  link_down_ = true;
  write_signal_.notify();
  if (deadline_timer_) {
    deadline_timer_->cancel();
  }
  if (backoff_timer_) {
    backoff_timer_->cancel();
  }
}

void Connection::record(const breaker::Permit& permit, breaker::CircuitBreaker* issuer,
                        breaker::Outcome outcome, Clock::time_point start, Clock::time_point now) {
  const auto latency = now - start;
  if (issuer != nullptr && permit.allowed()) {
    issuer->record(permit, outcome, latency, now);
  }
  if (metrics_.latency != nullptr && outcome != breaker::Outcome::Timeout) {
    metrics_.latency->observe(latency);
  }
}

void Connection::submit(std::string_view raw_command, ReplyTarget* target, std::uint64_t token,
                        Clock::time_point now, breaker::Permit permit,
                        breaker::CircuitBreaker* issuer, std::chrono::milliseconds injected_delay) {
  ++stats_.requests;
  const bool awaiting_first_connect = !first_attempt_done_ && !stopped_;
  if ((!connected_ && !awaiting_first_connect) || retiring_ || fifo_.waiting() >= max_pending_) {
    ++stats_.unavailable;
    record(permit, issuer, breaker::Outcome::Failure, now, now);
    target->on_reply(token, {}, ReplyStatus::NotSent, now);
    return;
  }
  wbuf_.append(raw_command);
  fifo_.push(target, token, now, permit, issuer, injected_delay);
  write_signal_.notify();
}

std::chrono::milliseconds Connection::next_backoff() {
  // Exponential from backoff_min to backoff_max, with full jitter in [50%, 100%] so that many
  // proxies do not reconnect in lockstep after an outage.
  const auto shift = std::min<std::uint32_t>(failures_in_a_row_, 20);
  auto base = backoff_min_ * (1ll << shift);
  if (base > backoff_max_ || base.count() <= 0) {
    base = backoff_max_;
  }
  std::uniform_int_distribution<std::int64_t> jitter(base.count() / 2, base.count());
  return std::chrono::milliseconds(jitter(rng_));
}

awaitable<bool> Connection::connect_once() {
  const ConnectResult result = co_await connect_upstream(ex_, config_, stream_, protocol_);
  if (result.ok && !result.server_version.empty()) {
    server_version_ = result.server_version;
  }
  if (!result.ok && !stopped_) {
    std::uint64_t suppressed = 0;
    if (connect_log_limiter().allow(suppressed)) {
      util::logger("upstream")
          ->warn("upstream={} address={}:{} connect failed: {} (suppressed={})", config_.name,
                 config_.host, config_.port, result.error, suppressed);
    }
  }
  co_return result.ok;
}

awaitable<void> Connection::run() {
  auto log = util::logger("upstream");
  while (!stopped_) {
    link_down_ = false;
    const bool ok = co_await connect_once();
    const bool first_attempt = !first_attempt_done_;
    first_attempt_done_ = true;
    if (stopped_) {
      stream_.close();
      if (first_attempt) {
        fail_all_pending(ReplyStatus::NotSent);
      }
      break;
    }
    if (!ok) {
      if (first_attempt) {
        // What waited for this attempt was never sent: Redis did not take the connection.
        fail_all_pending(ReplyStatus::NotSent);
      }
      ++stats_.connect_failures;
      if (metrics_.connects_failed != nullptr) {
        metrics_.connects_failed->inc();
      }
      ++failures_in_a_row_;
      asio::steady_timer timer(ex_);
      backoff_timer_ = &timer;
      timer.expires_after(next_backoff());
      co_await timer.async_wait(use_nothrow);
      backoff_timer_ = nullptr;
      continue;
    }
    ++stats_.connects;
    failures_in_a_row_ = 0;
    connected_ = true;
    fifo_.restart(Clock::now());
    if (metrics_.connects_ok != nullptr) {
      metrics_.connects_ok->inc();
      metrics_.connected->inc();
    }
    link_down_ = false;
    log->info("upstream={} address={}:{} connected tls={} auth={}", config_.name, config_.host,
              config_.port, stream_.is_tls(), config_.auth.enabled());
    co_await (read_loop() && write_loop() && deadline_loop());
    connected_ = false;
    if (metrics_.connected != nullptr) {
      metrics_.connected->dec();
    }
    fail_all_pending(ReplyStatus::Unavailable);
    if (!stopped_) {
      log->warn("upstream={} address={}:{} disconnected", config_.name, config_.host, config_.port);
    }
  }
}

awaitable<void> Connection::read_loop() {
  rbegin_ = rend_ = 0;
  framer_.reset();
  while (!link_down_) {
    if (rend_ == rbuf_.size()) {
      if (rbegin_ > 0) {
        rbuf_.erase(0, rbegin_);
        rend_ -= rbegin_;
        rbegin_ = 0;
        rbuf_.resize(rbuf_.capacity());
      } else {
        rbuf_.resize(rbuf_.size() * 2);
      }
    }
    auto [ec, n] =
        co_await stream_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_));
    if (ec) {
      break;
    }
    rend_ += n;
    const auto now = Clock::now();
    while (rbegin_ < rend_) {
      resp::FramedReply reply;
      const auto e = framer_.feed(std::string_view(rbuf_.data() + rbegin_, rend_ - rbegin_), reply);
      if (e == resp::errc::need_more) {
        break;
      }
      if (e != resp::errc::ok || fifo_.empty()) {
        end_batch();
        util::logger("upstream")
            ->error("upstream={} unexpected reply ({}): closing the connection", config_.name,
                    e == resp::errc::ok ? "no request pending" : resp::message(e));
        link_down();
        co_return;
      }
      // Served from when the reply before it came: taken before the match moves that time.
      follow_pause();
      const Clock::time_point served = fifo_.served_from(fifo_.front(), now);
      const RequestFifo::Matched matched = fifo_.pop_reply(now);
      const Pending& front = matched.entry;
      const std::string_view bytes(rbuf_.data() + rbegin_, reply.length);
      rbegin_ += reply.length;
      if (matched.late) {
        ++stats_.late_replies;
        count_in_doubt(-1);
      } else if (front.delay.count() > 0) {
        const bool failed =
            (reply.type == '-' || reply.type == '!') && breaker::classify_error_reply(bytes);
        hold_reply(HeldReply{front, std::string(bytes), failed, served, now + front.delay,
                             served + fifo_.request_timeout()});
      } else {
        const bool failed =
            (reply.type == '-' || reply.type == '!') && breaker::classify_error_reply(bytes);
        record(front.permit, front.issuer,
               failed ? breaker::Outcome::Failure : breaker::Outcome::Success, served, now);
        front.target->on_reply(front.token, bytes,
                               failed ? ReplyStatus::FailedReply : ReplyStatus::Ok, now);
        if (batch_.empty() || batch_.back() != front.target) {
          batch_.push_back(front.target);
        }
      }
    }
    end_batch();
    if (rbegin_ == rend_) {
      rbegin_ = rend_ = 0;
    }
    if (retiring_ && fifo_.empty()) {
      break;
    }
  }
  link_down();
}

void Connection::end_batch() {
  // Targets stay alive until their last reply has been delivered (see ReplyTarget), and this runs
  // in the same handler as that delivery. A target listed twice just finds nothing left to write.
  for (ReplyTarget* target : batch_) {
    target->on_batch_end();
  }
  batch_.clear();
}

awaitable<void> Connection::write_loop() {
  while (true) {
    while (wbuf_.empty() && !link_down_) {
      co_await write_signal_.wait();
    }
    if (link_down_) {
      co_return;
    }
    writing_.swap(wbuf_);
    auto [ec, n] = co_await stream_.async_write(asio::buffer(writing_));
    writing_.clear();
    if (ec) {
      link_down();
      co_return;
    }
  }
}

awaitable<void> Connection::deadline_loop() {
  asio::steady_timer timer(ex_);
  deadline_timer_ = &timer;
  while (!link_down_) {
    follow_pause();
    timer.expires_at(fifo_.next_check(Clock::now()));
    co_await timer.async_wait(use_nothrow);
    if (link_down_) {
      break;
    }
    // Replies already in the socket are not late: when this thread was descheduled, the timer
    // and the replies are ready together. Let the reader take them first.
    error_code ec;
    if (stream_.available(ec) > 0 && !ec) {
      co_await asio::post(ex_, use_nothrow);
      if (link_down_) {
        break;
      }
    }
    const auto fired = Clock::now();
    follow_pause();  // a pause noticed while the timer ran: nothing is late yet
    fifo_.expire(fired, [&](const Pending& p) {
      // Before the target hears of it: a write it journals now must find the replay waiting.
      count_in_doubt(1);
      ++stats_.timeouts;
      if (metrics_.timeouts != nullptr) {
        metrics_.timeouts->inc();
      }
      record(p.permit, p.issuer, breaker::Outcome::Timeout, fifo_.service_start(p), fired);
      p.target->on_reply(p.token, {}, ReplyStatus::Timeout, fired);
    });
  }
  deadline_timer_ = nullptr;
}

void Connection::hold_reply(HeldReply held) {
  // One coroutine per held reply: faults are a rehearsal tool, not the steady state, and each
  // waits at most request_timeout. The connection stays alive until it has delivered.
  asio::co_spawn(
      ex_,
      [self = shared_from_this(), held = std::move(held)]() mutable {
        return self->held_reply(std::move(held));
      },
      util::on_coroutine_done("upstream", "injected delay"));
}

awaitable<void> Connection::held_reply(HeldReply held) {
  // Redis has answered, so nothing of it is in doubt: a reply held past the deadline is answered
  // Timeout then, as if it had not come, and the reply itself is dropped.
  const bool times_out = held.deliver >= held.deadline;
  asio::steady_timer timer(ex_);
  timer.expires_at(times_out ? held.deadline : held.deliver);
  co_await timer.async_wait(use_nothrow);
  const Pending& p = held.entry;
  const auto now = Clock::now();
  if (times_out) {
    ++stats_.timeouts;
    if (metrics_.timeouts != nullptr) {
      metrics_.timeouts->inc();
    }
    record(p.permit, p.issuer, breaker::Outcome::Timeout, held.served, now);
    p.target->on_reply(p.token, {}, ReplyStatus::Timeout, now);
    co_return;
  }
  record(p.permit, p.issuer, held.failed ? breaker::Outcome::Failure : breaker::Outcome::Success,
         held.served, now);
  p.target->on_reply(p.token, held.bytes, held.failed ? ReplyStatus::FailedReply : ReplyStatus::Ok,
                     now);
  p.target->on_batch_end();
}

void Connection::follow_pause() {
  if (metrics_.paused_until == nullptr) {
    return;
  }
  const std::int64_t until = metrics_.paused_until->load(std::memory_order_relaxed);
  if (until != pause_seen_) {
    pause_seen_ = until;
    fifo_.hold_until(Clock::time_point(Clock::duration(until)));
  }
}

void Connection::count_in_doubt(std::int64_t delta) {
  if (metrics_.in_doubt != nullptr && delta != 0) {
    metrics_.in_doubt->fetch_add(delta, std::memory_order_acq_rel);
  }
}

void Connection::fail_all_pending(ReplyStatus status) {
  wbuf_.clear();
  // The connection ended: Redis runs nothing more of it (before the targets hear of it).
  count_in_doubt(-static_cast<std::int64_t>(fifo_.expired()));
  const auto now = Clock::now();
  fifo_.clear([&](const Pending& p) {
    ++stats_.unavailable;
    record(p.permit, p.issuer, breaker::Outcome::Failure, fifo_.service_start(p), now);
    p.target->on_reply(p.token, {}, status, now);
  });
}

}  // namespace seawall::upstream
