#pragma once
// One client connection. A reader coroutine frames commands and dispatches them (answered here,
// refused, or forwarded to the session's upstream connection); a writer coroutine sends replies
// in request order, one write per burst. Replies that complete out of order wait in their slot.
//
// Backpressure: reading pauses while max_pipeline replies are pending or while more than
// kPauseBytes of output wait to be written; the client is closed when its output exceeds
// limits.client_output_buffer. A protocol error answers "-ERR Protocol error: ..." and closes
// this client only.
//
// Ownership: shared_ptr kept alive by its coroutines and by pending upstream requests.
// Thread safety: one worker thread.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "seawall/net.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/resp/request_parser.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::proxy {

class Session : public upstream::ReplyTarget, public std::enable_shared_from_this<Session> {
 public:
  // Output bytes waiting beyond which the session stops reading new commands.
  static constexpr std::size_t kPauseBytes = 1024 * 1024;

  Session(tcp::socket socket, WorkerContext& ctx, std::uint64_t id);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // Stop reading; finish and flush what is in flight, then close.
  void begin_drain();
  // Close now; in-flight replies are discarded.
  void close();

  // ReplyTarget
  void on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status) override;

 private:
  struct Slot {
    bool ready = false;
    std::string data;
  };
  enum class Next { Continue, StopReading };

  awaitable<void> read_loop();
  awaitable<void> write_loop();
  awaitable<void> idle_loop();
  Next dispatch(const resp::ParsedRequest& request, std::string_view raw);
  Next dispatch_client_subcommand(const resp::ParsedRequest& request, std::string_view raw);
  void forward(const resp::ParsedRequest& request, std::string_view raw);
  void refuse_unsupported(std::string_view name);
  void reply_now(std::string_view bytes);
  void complete(std::uint64_t seq, std::string_view bytes);
  std::size_t pending() const { return slots_.size(); }
  std::size_t output_bytes() const { return out_.size() + writing_.size(); }
  bool should_pause() const;
  void maybe_resume();

  tcp::socket socket_;
  WorkerContext& ctx_;
  std::uint64_t id_;
  resp::RequestParser parser_;
  resp::ParsedRequest request_;
  std::string rbuf_;
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  std::string out_;      // replies ready to write
  std::string writing_;  // the batch being written
  std::string scratch_;  // re-encoded inline commands
  std::deque<Slot> slots_;
  std::uint64_t front_seq_ = 0;
  util::Signal write_signal_;
  util::Signal resume_signal_;
  asio::cancellation_signal read_cancel_;
  std::chrono::steady_clock::time_point last_activity_;
  std::size_t in_upstream_ = 0;  // requests submitted and not yet answered by the connection
  std::string client_name_;
  std::string timeout_reply_;
  std::string unavailable_reply_;
  bool closed_ = false;
  bool read_done_ = false;
  bool paused_ = false;
  bool registered_ = false;
};

}  // namespace seawall::proxy
