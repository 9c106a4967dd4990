#pragma once
// The requests of one pipelined connection, oldest first, matched to replies in order, with
// their deadlines: the queue inside the Multiplexer (multiplexer.hpp), which adds the bytes
// (write buffer, reply framing), the breaker accounting and the drop rule. Like it, no socket or
// timer: unit-tested by feeding it replies and time (as Boost.Redis tests its reader).
//
// Every request's deadline is request_timeout after its submission, but a request is only
// judged once it reaches the head of the line: time spent queued behind earlier replies is not
// Redis being slow. When the head misses request_timeout from the moment it was served, Redis is
// stalled, and from then on every request older than request_timeout times out at once. A timed
// out entry stays, marked expired, so that its late reply is discarded in order and never
// reaches the wrong client; expired entries are always a prefix, since every request has the
// same timeout.
//
// While Redis holds its clients on purpose (CLIENT PAUSE, see hold_until), no request is judged:
// each gets request_timeout from the end of the pause, and the time held is not latency.
//
// Thread safety: one worker thread (its connection's).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/upstream/reply_target.hpp"

namespace seawall::upstream {

class RequestFifo {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    ReplyTarget* target = nullptr;
    std::uint64_t token = 0;
    Clock::time_point deadline{};
    breaker::Permit permit;  // not allowed() = no breaker accounting
    breaker::CircuitBreaker* issuer = nullptr;
    // An injected delay (faults): its reply is held this long before anyone hears of it.
    std::chrono::milliseconds delay{0};
  };
  // The entry a reply belongs to; `late`: its target was answered with Timeout already.
  struct Matched {
    Entry entry;
    bool late = false;
  };

  explicit RequestFifo(std::chrono::milliseconds request_timeout)
      : request_timeout_(request_timeout) {}

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }                // expired ones included
  std::size_t waiting() const { return entries_.size() - expired_; }  // not answered yet
  std::size_t expired() const { return expired_; }
  const Entry& front() const { return entries_.front(); }  // requires !empty()

  void push(ReplyTarget* target, std::uint64_t token, Clock::time_point now, breaker::Permit permit,
            breaker::CircuitBreaker* issuer,
            std::chrono::milliseconds delay = std::chrono::milliseconds{0}) {
    entries_.push_back(Entry{target, token, now + request_timeout_, permit, issuer, delay});
  }

  std::chrono::milliseconds request_timeout() const { return request_timeout_; }

  // The connection is (re)established at `now`: nothing has been waiting on Redis yet.
  void restart(Clock::time_point now) {
    last_reply_at_ = now;
    stalled_ = false;
  }

  // A complete reply arrived at `now`: the front entry is its request. Requires !empty().
  Matched pop_reply(Clock::time_point now) {
    Matched m{entries_.front(), expired_ > 0};
    entries_.pop_front();
    if (m.late) {
      --expired_;
    }
    last_reply_at_ = now;
    stalled_ = false;
    return m;
  }

  // When a request was served: submitted, or when the reply before it came, if later.
  Clock::time_point service_start(const Entry& e) const {
    return std::max(e.deadline - request_timeout_, last_reply_at_);
  }
  // The same for its latency: not before a pause that ended by `now` (see hold_until).
  Clock::time_point served_from(const Entry& e, Clock::time_point now) const {
    return std::max(service_start(e), std::min(held_until_, now));
  }

  // Redis holds its clients until `until` (CLIENT PAUSE; an UNPAUSE moves it to its own time):
  // nothing is judged before then, and every request waiting gets request_timeout from it.
  void hold_until(Clock::time_point until) {
    held_until_ = until;
    stalled_ = false;
  }

  // When the deadlines should be looked at next (every request_timeout while idle, so a request
  // submitted meanwhile is never looked at late and submitting never re-arms the timer).
  Clock::time_point next_check(Clock::time_point now) const {
    if (expired_ < entries_.size()) {
      const Entry& head = entries_[expired_];
      return stalled_ ? deadline_of(head) : judged_from(head) + request_timeout_;
    }
    return std::max(now, held_until_) + request_timeout_;
  }

  // At `fired`: every entry that missed its deadline, if Redis is stalled, is marked expired and
  // given to on_timeout(entry), oldest first. Returns how many.
  template <typename OnTimeout>
  std::size_t expire(Clock::time_point fired, OnTimeout&& on_timeout) {
    if (expired_ < entries_.size() && judged_from(entries_[expired_]) + request_timeout_ <= fired) {
      stalled_ = true;
    }
    std::size_t n = 0;
    while (stalled_ && expired_ < entries_.size() && deadline_of(entries_[expired_]) <= fired) {
      const Entry& e = entries_[expired_];
      ++expired_;
      ++n;
      on_timeout(e);
    }
    return n;
  }

  // Empties the FIFO (the connection ended): every entry not answered yet goes to
  // on_failed(entry), oldest first. Returns how many were expired (answered already).
  template <typename OnFailed>
  std::size_t clear(OnFailed&& on_failed) {
    std::deque<Entry> failed;
    failed.swap(entries_);
    const std::size_t expired = expired_;
    expired_ = 0;
    for (std::size_t i = expired; i < failed.size(); ++i) {
      on_failed(failed[i]);
    }
    return expired;
  }

 private:
  Clock::time_point judged_from(const Entry& e) const {
    return std::max(service_start(e), held_until_);
  }
  Clock::time_point deadline_of(const Entry& e) const {
    return std::max(e.deadline, held_until_ + request_timeout_);
  }

  std::chrono::milliseconds request_timeout_;
  std::deque<Entry> entries_;
  std::size_t expired_ = 0;            // leading entries already answered with Timeout
  Clock::time_point last_reply_at_{};  // when the latest reply arrived (or the connect)
  bool stalled_ = false;               // the head timed out and no reply has come since
  Clock::time_point held_until_{};     // the end of Redis's latest pause (hold_until)
};

}  // namespace seawall::upstream
