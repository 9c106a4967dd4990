#include "seawall/upstream/multiplexer.hpp"

#include <utility>

namespace seawall::upstream {
namespace {

constexpr std::size_t kInitialReadBuffer = 64 * 1024;

bool is_failed_reply(const resp::FramedReply& reply, std::string_view bytes) {
  return (reply.type == '-' || reply.type == '!') && breaker::classify_error_reply(bytes);
}

}  // namespace

Multiplexer::Multiplexer(std::chrono::milliseconds request_timeout, std::uint32_t max_pending,
                         std::uint32_t max_depth, const MultiplexerMetrics& metrics)
    : fifo_(request_timeout), max_pending_(max_pending), metrics_(metrics), framer_(max_depth) {
  rbuf_.resize(kInitialReadBuffer);
}

void Multiplexer::record(const Entry& e, breaker::Outcome outcome, Clock::time_point start,
                         Clock::time_point now) {
  const auto latency = now - start;
  if (e.issuer != nullptr && e.permit.allowed()) {
    e.issuer->record(e.permit, outcome, latency, now);
  }
  if (metrics_.latency != nullptr && outcome != breaker::Outcome::Timeout) {
    metrics_.latency->observe(latency);
  }
}

bool Multiplexer::submit(std::string_view raw_command, ReplyTarget* target, std::uint64_t token,
                         Clock::time_point now, breaker::Permit permit,
                         breaker::CircuitBreaker* issuer,
                         std::chrono::milliseconds injected_delay) {
  if (fifo_.waiting() >= max_pending_) {
    refuse(target, token, now, permit, issuer);
    return false;
  }
  ++stats_.requests;
  wbuf_.append(raw_command);
  fifo_.push(target, token, now, permit, issuer, injected_delay);
  ++unwritten_;
  return true;
}

void Multiplexer::refuse(ReplyTarget* target, std::uint64_t token, Clock::time_point now,
                         const breaker::Permit& permit, breaker::CircuitBreaker* issuer) {
  ++stats_.requests;
  ++stats_.unavailable;
  record(Entry{target, token, now, permit, issuer, {}}, breaker::Outcome::Failure, now, now);
  target->on_reply(token, {}, ReplyStatus::NotSent, now);
}

std::string_view Multiplexer::stage_write() {
  writing_.swap(wbuf_);
  wbuf_.clear();
  unwritten_ = 0;
  return writing_;
}

void Multiplexer::write_partly(std::size_t n) {
  if (n < writing_.size()) {
    wbuf_.insert(0, writing_, n);
  }
  writing_.clear();
}

std::span<char> Multiplexer::read_space() {
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
  return {rbuf_.data() + rend_, rbuf_.size() - rend_};
}

Multiplexer::ReadResult Multiplexer::on_read(std::size_t bytes_read, Clock::time_point now) {
  rend_ += bytes_read;
  ReadResult result;
  while (rbegin_ < rend_) {
    resp::FramedReply reply;
    const auto e = framer_.feed(std::string_view(rbuf_.data() + rbegin_, rend_ - rbegin_), reply);
    if (e == resp::errc::need_more) {
      break;
    }
    if (e != resp::errc::ok) {
      result = {ReadStatus::ProtocolError, e};
      break;
    }
    if (written() == 0) {
      result = {ReadStatus::UnexpectedReply, resp::errc::ok};
      break;
    }
    // Served from when the reply before it came: taken before the match moves that time.
    follow_pause();
    const Clock::time_point served = fifo_.served_from(fifo_.front(), now);
    const RequestFifo::Matched matched = fifo_.pop_reply(now);
    const Entry& front = matched.entry;
    const std::string_view bytes(rbuf_.data() + rbegin_, reply.length);
    rbegin_ += reply.length;
    if (matched.late) {
      ++stats_.late_replies;
      count_in_doubt(-1);
      continue;
    }
    bool failed = is_failed_reply(reply, bytes);
    if (not_master_ == NotMasterReplies::Fail && (reply.type == '-' || reply.type == '!') &&
        breaker::classify_not_master_reply(bytes)) {
      failed = true;
      ++not_master_replies_;
    }
    if (front.delay.count() > 0) {
      held_.push_back(HeldReply{front, std::string(bytes), failed, served, now + front.delay,
                                served + fifo_.request_timeout()});
      continue;
    }
    record(front, failed ? breaker::Outcome::Failure : breaker::Outcome::Success, served, now);
    front.target->on_reply(front.token, bytes, failed ? ReplyStatus::FailedReply : ReplyStatus::Ok,
                           now);
    if (batch_.empty() || batch_.back() != front.target) {
      batch_.push_back(front.target);
    }
  }
  end_batch();
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
  }
  return result;
}

void Multiplexer::end_batch() {
  // Targets stay alive until their last reply has been delivered (see ReplyTarget), and this runs
  // in the same handler as that delivery. A target listed twice just finds nothing left to write.
  for (ReplyTarget* target : batch_) {
    target->on_batch_end();
  }
  batch_.clear();
}

std::vector<Multiplexer::HeldReply> Multiplexer::take_held() {
  std::vector<HeldReply> out;
  out.swap(held_);
  return out;
}

void Multiplexer::finish_held(const HeldReply& held, Clock::time_point now) {
  // Redis has answered, so nothing of it is in doubt: a reply held past the deadline is answered
  // Timeout then, as if it had not come, and the reply itself is dropped.
  const Entry& e = held.entry;
  if (held.times_out()) {
    answer_timeout(e, held.served, now);
    return;
  }
  record(e, held.failed ? breaker::Outcome::Failure : breaker::Outcome::Success, held.served, now);
  e.target->on_reply(e.token, held.bytes, held.failed ? ReplyStatus::FailedReply : ReplyStatus::Ok,
                     now);
  e.target->on_batch_end();
}

void Multiplexer::answer_timeout(const Entry& e, Clock::time_point start, Clock::time_point now) {
  ++stats_.timeouts;
  if (metrics_.timeouts != nullptr) {
    metrics_.timeouts->inc();
  }
  record(e, breaker::Outcome::Timeout, start, now);
  e.target->on_reply(e.token, {}, ReplyStatus::Timeout, now);
}

Multiplexer::Clock::time_point Multiplexer::next_deadline(Clock::time_point now) {
  follow_pause();
  return fifo_.next_check(now);
}

std::size_t Multiplexer::on_deadline(Clock::time_point fired) {
  follow_pause();  // a pause noticed while the timer ran: nothing is late yet
  return fifo_.expire(fired, [&](const Entry& e) {
    // Before the target hears of it: a write it journals now must find the replay waiting.
    count_in_doubt(1);
    answer_timeout(e, fifo_.service_start(e), fired);
  });
}

void Multiplexer::on_connected(Clock::time_point now) {
  fifo_.restart(now);
  framer_.reset();
  rbegin_ = rend_ = 0;
}

void Multiplexer::on_dropped(ReplyStatus status, Clock::time_point now) {
  wbuf_.clear();
  unwritten_ = 0;
  // The connection ended: Redis runs nothing more of it (before the targets hear of it).
  count_in_doubt(-static_cast<std::int64_t>(fifo_.expired()));
  fifo_.clear([&](const Entry& e) {
    ++stats_.unavailable;
    record(e, breaker::Outcome::Failure, fifo_.service_start(e), now);
    e.target->on_reply(e.token, {}, status, now);
  });
}

void Multiplexer::follow_pause() {
  if (metrics_.paused_until == nullptr) {
    return;
  }
  const std::int64_t until = metrics_.paused_until->load(std::memory_order_relaxed);
  if (until != pause_seen_) {
    pause_seen_ = until;
    fifo_.hold_until(Clock::time_point(Clock::duration(until)));
  }
}

void Multiplexer::count_in_doubt(std::int64_t delta) {
  if (metrics_.in_doubt != nullptr && delta != 0) {
    metrics_.in_doubt->fetch_add(delta, std::memory_order_acq_rel);
  }
}

}  // namespace seawall::upstream
