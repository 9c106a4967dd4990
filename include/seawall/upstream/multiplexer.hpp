#pragma once
// The request multiplexer of one pipelined upstream connection, free of I/O: Connection owns the
// socket, the timers and the coroutines, and drives this with bytes, events and the time (as
// Boost.Redis's connection drives its multiplexer); unit tests drive it the same way.
//
// A request moves waiting -> written -> done:
//   waiting  submit() appended its bytes to the write buffer; it is not on the wire yet.
//   written  stage_write() handed its bytes to the socket (a write in progress counts: Redis
//            may answer before the write's completion is seen).
//   done     its reply was matched (on_read), its deadline passed (on_deadline: answered Timeout,
//            then kept, expired, until its late reply is matched and discarded in order), or
//            the connection dropped (on_dropped).
// Replies are matched in FIFO order (RequestFifo); a reply when no written request is pending
// is a protocol violation (ReadStatus::UnexpectedReply), and so is a stream the framer rejects.
//
// Deadlines are events: next_deadline(now) says when to look next and on_deadline(fired) answers
// what expired by then. A request is judged only once it is the head of the line, and a stalled
// head expires every request older than request_timeout (see request_fifo.hpp). While Redis
// holds its clients on purpose (CLIENT PAUSE, followed through `paused_until`), nothing is judged
// and the time held is not latency.
//
// What happens to requests in flight when the connection drops (on_dropped), today's rule:
//   - every request not answered yet, waiting and written alike, is answered with the status the
//     connection gives: Unavailable after a connection that was up (a written request may have
//     run; a waiting one is answered the same, conservatively, since a write that failed does not
//     say how much of it reached Redis), NotSent when the first connect attempt failed (nothing
//     was ever written). Nothing is resent on the next connection: the client decides.
//   - an expired request (answered Timeout already) is only dropped: Redis runs nothing more of
//     this connection, so it is no longer in doubt (in_doubt goes down by one).
//   - the write buffer is emptied; the breaker records a Failure for each answered permit.
// Every permit given with a request is recorded into its issuer exactly once: Success or Failure
// (classify_error_reply) when its reply is delivered, Timeout when it expires (its late reply
// records nothing), Failure when it is refused or dropped.
//
// Ownership: owned by its Connection. Thread safety: the connection's worker thread only; the
// metrics and `paused_until` it points to are shared atomics.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/metrics/counter.hpp"
#include "seawall/metrics/histogram.hpp"
#include "seawall/resp/errc.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/upstream/request_fifo.hpp"

namespace seawall::upstream {

struct ConnectionStats {
  std::uint64_t requests = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t late_replies = 0;
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
};

// Shared handles the multiplexer reports into; any may be null (tests, health connections).
struct MultiplexerMetrics {
  metrics::Histogram* latency = nullptr;
  metrics::Counter* timeouts = nullptr;
  // Requests that timed out and whose late reply has not come yet (see ConnectionMetrics).
  std::atomic<std::int64_t>* in_doubt = nullptr;
  // When Redis's latest pause ends, in steady_clock ticks (see ConnectionMetrics).
  const std::atomic<std::int64_t>* paused_until = nullptr;
};

// What -READONLY and -MASTERDOWN replies are (breaker::classify_not_master_reply): Relay them
// as Redis's answer (-MASTERDOWN still counts for the breaker, as classify_error_reply says), or,
// on a sentinel-managed upstream, Fail them (a FailedReply, counted; see take_not_master_replies).
enum class NotMasterReplies : std::uint8_t { Relay, Fail };

class Multiplexer {
 public:
  using Clock = std::chrono::steady_clock;
  using Entry = RequestFifo::Entry;

  enum class ReadStatus : std::uint8_t {
    Ok,               // every complete reply was delivered; a partial one waits for more bytes
    UnexpectedReply,  // a reply with no written request pending: close the connection
    ProtocolError,    // the framer rejected the stream (`error`): close the connection
  };
  struct ReadResult {
    ReadStatus status = ReadStatus::Ok;
    resp::errc error = resp::errc::ok;
  };

  // A reply to a request with an injected delay (faults): the connection holds it until
  // fire_at(), then gives it to finish_held().
  struct HeldReply {
    Entry entry;
    std::string bytes;
    bool failed = false;         // an error reply the breaker counts (classify_error_reply)
    Clock::time_point served;    // when Redis started on it
    Clock::time_point deliver;   // arrival + the injected delay
    Clock::time_point deadline;  // served + request_timeout: past it, a Timeout instead
    bool times_out() const { return deliver >= deadline; }
    Clock::time_point fire_at() const { return times_out() ? deadline : deliver; }
  };

  Multiplexer(std::chrono::milliseconds request_timeout, std::uint32_t max_pending,
              std::uint32_t max_depth, const MultiplexerMetrics& metrics = {});

  // ---- submitting --------------------------------------------------------------------------
  // Queues one raw RESP command as waiting (deadline now + request_timeout), or refuses it when
  // max_pending requests are unanswered already. Returns whether it was queued.
  bool submit(std::string_view raw_command, ReplyTarget* target, std::uint64_t token,
              Clock::time_point now, breaker::Permit permit, breaker::CircuitBreaker* issuer,
              std::chrono::milliseconds injected_delay = std::chrono::milliseconds{0});
  // Answers NotSent at once (not connected, retiring, or full): the request never ran.
  void refuse(ReplyTarget* target, std::uint64_t token, Clock::time_point now,
              const breaker::Permit& permit, breaker::CircuitBreaker* issuer);

  // ---- writing -----------------------------------------------------------------------------
  bool has_waiting() const { return !wbuf_.empty(); }
  std::size_t waiting_bytes() const { return wbuf_.size(); }
  // Every waiting request becomes written; returns their bytes, valid until write_done().
  std::string_view stage_write();
  void write_done() { writing_.clear(); }
  // Instead of write_done(): only the first `n` staged bytes went out. The staged requests count
  // as written (they may run); the rest of their bytes wait again, ahead of later requests.
  void write_partly(std::size_t n);

  // ---- reading -----------------------------------------------------------------------------
  // Where the next read from the socket goes (never empty); then on_read(bytes read).
  std::span<char> read_space();
  // Matches every complete reply among the bytes read so far, delivers them (each target that
  // got one is told on_batch_end afterwards, once), and keeps a partial reply for the next read.
  ReadResult on_read(std::size_t bytes_read, Clock::time_point now);
  // Replies matched to requests with an injected delay since the last call (see HeldReply).
  std::vector<HeldReply> take_held();
  // A held reply's time came: delivered, or Timeout when it was held past its deadline.
  void finish_held(const HeldReply& held, Clock::time_point now);

  // ---- deadlines ---------------------------------------------------------------------------
  Clock::time_point next_deadline(Clock::time_point now);
  // Answers Timeout to every request that expired by `fired`; returns how many.
  std::size_t on_deadline(Clock::time_point fired);
  // Redis holds its clients until `until` (what following `paused_until` does; for tests).
  void hold_until(Clock::time_point until) { fifo_.hold_until(until); }

  // ---- the connection ----------------------------------------------------------------------
  // Connected (again) at `now`: nothing waits on Redis yet, and no partial reply is kept.
  void on_connected(Clock::time_point now);
  // The connection ended: see the rule in this file's header.
  void on_dropped(ReplyStatus status, Clock::time_point now);

  bool empty() const { return fifo_.empty(); }
  std::size_t size() const { return fifo_.size(); }           // expired ones included
  std::size_t unanswered() const { return fifo_.waiting(); }  // neither answered nor expired
  std::size_t waiting() const { return unwritten_; }          // not staged for writing yet
  std::size_t written() const { return fifo_.size() - unwritten_; }
  std::size_t expired() const { return fifo_.expired(); }
  const ConnectionStats& stats() const { return stats_; }
  ConnectionStats& stats() { return stats_; }
  std::chrono::milliseconds request_timeout() const { return fifo_.request_timeout(); }

  void set_not_master_replies(NotMasterReplies mode) { not_master_ = mode; }
  // Replies failed as NotMasterReplies::Fail since the last call.
  std::uint64_t take_not_master_replies() { return std::exchange(not_master_replies_, 0); }

 private:
  void record(const Entry& e, breaker::Outcome outcome, Clock::time_point start,
              Clock::time_point now);
  void answer_timeout(const Entry& e, Clock::time_point start, Clock::time_point now);
  void count_in_doubt(std::int64_t delta);
  void follow_pause();
  void end_batch();

  RequestFifo fifo_;
  std::uint32_t max_pending_;
  MultiplexerMetrics metrics_;
  std::string wbuf_;           // the bytes of the waiting requests
  std::string writing_;        // the bytes staged for the socket
  std::size_t unwritten_ = 0;  // requests at the FIFO's tail whose bytes are in wbuf_
  resp::ReplyFramer framer_;
  std::string rbuf_;
  std::size_t rbegin_ = 0;           // the first byte not matched yet
  std::size_t rend_ = 0;             // the end of the bytes read
  std::vector<ReplyTarget*> batch_;  // targets given a reply by the read being processed
  std::vector<HeldReply> held_;
  std::int64_t pause_seen_ = 0;  // the paused_until value fifo_ holds until
  ConnectionStats stats_;
  NotMasterReplies not_master_ = NotMasterReplies::Relay;
  std::uint64_t not_master_replies_ = 0;
};

}  // namespace seawall::upstream
