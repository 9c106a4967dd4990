#pragma once
// One client connection. A reader coroutine frames commands and dispatches them (answered here,
// refused, or forwarded to the session's upstream connection); a writer coroutine sends replies
// in request order, one write per burst. Replies that complete out of order wait in their slot.
//
// Memory: an idle session holds no read buffer (one is lent from the worker's ReadBufferPool when
// the socket is readable and given back once no command is left incomplete), its reply ring and
// queues are allocated on first use, and the worker's sweep (trim_if_idle) frees what a session
// idle for a while still holds, so 10k idle clients cost a few KB each.
//
// Backpressure: reading pauses while max_pipeline replies are pending or while more than
// kPauseBytes of output wait to be written; the client is closed when its output exceeds
// limits.client_output_buffer. A protocol error answers "-ERR Protocol error: ..." and closes
// this client only.
//
// Before anything is forwarded, seawall's own checks run: client authentication (auth:) and the
// command deny list (deny_commands). Their answers take their place in request order, also
// while pinned.
//
// Dispatch (dispatch.cpp): each request is answered here, refused, relayed while pinned, or
// forwarded to the upstream of its keys; the forward path hands a command whose keys span
// upstreams to SplitForward, a request its upstream cannot answer to DegradedReplies, and what
// replies and writes do to the L1 to CacheEffects.
//
//
// Pinned mode (PinnedLink, pinned_link.hpp): while the client holds connection state (MULTI,
// WATCH, SELECT n, SUBSCRIBE, ...) its commands are relayed on a dedicated upstream connection.
//
// Introspection (ClientPresence): the session's ClientRecord in the process-wide ClientRegistry
// shows it in CLIENT INFO / CLIENT LIST; with introspection.client_list or .info set to seawall,
// CLIENT LIST / CLIENT KILL or INFO are answered from the registry. INFO merged with Redis's and
// CLIENT PAUSE are UpstreamAsks; MONITOR is a MonitorTap, allocated at the first MONITOR.
//
// Ownership: shared_ptr kept alive by its coroutines and by pending upstream requests.
// Thread safety: one worker thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/client_presence.hpp"
#include "seawall/proxy/cluster_redirects.hpp"
#include "seawall/proxy/degraded_replies.hpp"
#include "seawall/proxy/link_state.hpp"
#include "seawall/proxy/monitor_tap.hpp"
#include "seawall/proxy/near_reads.hpp"
#include "seawall/proxy/pinned_link.hpp"
#include "seawall/proxy/query_buffer.hpp"
#include "seawall/proxy/reply_queue.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/split_forward.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/proxy/writes_in_flight.hpp"
#include "seawall/resp/request_parser.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::proxy {

class Session : public upstream::ReplyTarget,
                public SessionHost,
                private PartSender,
                private RedirectSender,
                public std::enable_shared_from_this<Session> {
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
  void close() override;
  // Upstream `index`'s master moved (a sentinel failover): a dedicated connection to it is
  // closed as Redis closes it on CLIENT KILL, so the client reconnects (to the new master).
  void upstream_moved(std::size_t index);

  // The worker's idle sweep: when nothing has happened for `idle_for` and nothing is in flight,
  // frees the capacity of every buffer and container (Redis shrinks an idle client's query
  // buffer likewise). Returns the bytes freed (0 when busy or already trimmed).
  std::size_t trim_if_idle(std::chrono::steady_clock::time_point now,
                           std::chrono::steady_clock::duration idle_for);
  // Heap bytes held in buffers and containers (capacities, not sizes): the
  // seawall_session_buffer_bytes gauge sums these.
  std::size_t buffer_bytes() const;

  // ReplyTarget
  void on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status,
                std::chrono::steady_clock::time_point now) override;
  void on_batch_end() override;

  // A read parked behind an in-flight write of its key (ParkedReads): true once answered (or the
  // session closed); `expired`: answer now, whatever the write's state.
  bool retry_parked(std::uint64_t seq, bool expired);

 private:
  // How a forwarded multi-key command split across upstreams is merged back.
  using Merge = command::Merge;

  using Slot = RequestSlot;
  using WriteMark = WritesInFlight::Marked;
  enum class Next { Continue, StopReading };

  awaitable<void> read_loop();
  // One non-blocking read into query_. Wait: nothing to read yet. End: EOF, a reset (the
  // session is closed) or the query buffer limit (answered).
  enum class ReadStep : std::uint8_t { Data, Wait, End };
  ReadStep read_available();
  awaitable<void> write_loop();
  awaitable<void> idle_loop();
  // Client authentication and the deny list. True when the command was answered here; a HELLO
  // whose AUTH option seawall accepted is rewritten without it and goes on.
  bool answered_locally(resp::ParsedRequest& request, command::Command cmd);
  // `cmd`: the request's command, looked up once by read_loop.
  Next dispatch(const resp::ParsedRequest& request, std::string_view raw, command::Command cmd);
  Next dispatch_client_subcommand(const resp::ParsedRequest& request, std::string_view raw,
                                  const command::CommandInfo* client);
  // HELLO without AUTH (with AUTH it pins): answered here, since the shared connections already
  // speak the protocol asked for; it sets the protocol of this session's replies.
  void answer_hello(std::span<const std::string_view> args);
  awaitable<void> open_resp3_connections();
  // key_indexes_ for the request being dispatched: once per request, before its pin (if it
  // wants one), write_must_wait and the relay or dispatch, which all read it.
  void find_keys(const command::CommandInfo* info, std::span<const std::string_view> args);
  upstream::Protocol upstream_protocol() const {
    return protocol_ == resp::Protocol::Resp3 ? upstream::Protocol::Resp3
                                              : upstream::Protocol::Resp2;
  }
  // `info` is the command's table entry (nullptr when unknown), already looked up by dispatch.
  void forward(const resp::ParsedRequest& request, std::string_view raw,
               const command::CommandInfo* info);
  // Fills what the reply (or the fallback) needs to know about the request; key_indexes_ holds
  // its key positions.
  void describe(Slot& slot, const command::CommandInfo* info,
                std::span<const std::string_view> args, std::size_t up);
  // A near miss's reply did what it does to the L1: reads waiting for it look again.
  void end_near_flight(Slot& slot);
  // ReplySlots (for degraded_ and split_)
  void complete_request(std::uint64_t seq, std::string_view bytes) override {
    complete(seq, bytes);
  }
  std::string& scratch_buffer() override { return scratch_; }
  resp::Protocol reply_protocol() const override { return protocol_; }
  std::chrono::steady_clock::time_point last_activity() const override { return last_activity_; }
  void park_read(std::uint64_t seq, std::chrono::steady_clock::time_point deadline) override;
  // PartSender (for split_)
  RequestSlot& push_request(std::uint64_t& seq) override {
    Slot& slot = push_slot();
    seq = replies_.back_seq();
    return slot;
  }
  void send_part(const command::CommandInfo& info, std::span<const std::string_view> args,
                 std::size_t up, std::uint64_t token, std::span<const std::string_view> part,
                 const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                 std::chrono::steady_clock::time_point now) override;
  std::size_t read_upstream(const RequestSlot& slot, std::size_t up) override;
  // RedirectSender (for redirects_)
  void resend(std::size_t up, std::uint64_t token, std::span<const std::string_view> command,
              bool asking, const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
              std::chrono::steady_clock::time_point now) override;
  // Writes of one key keep their order (WritesInFlight): true while this write (shared or
  // pinned) must wait for another sender's write of its keys; a shared one moves to that
  // sender's connection instead when it can (moved_to_).
  // Returns the upstream whose write it must wait for, or nothing.
  std::optional<std::size_t> write_must_wait(const command::CommandInfo* info,
                                             std::span<const std::string_view> args);
  awaitable<void> wait_write_order(const command::CommandInfo* info, std::size_t up);
  // The connection to `up` for this session's next command: the one it moved to while its
  // commands there are in flight, else its own (Pool::pick).
  upstream::Connection& connection_for(std::size_t up);
  // A slot for a new request at the back of replies_, reset.
  Slot& push_slot();
  Slot& slot_at(std::uint64_t seq) { return replies_.at(seq); }
  // Until nothing sent on shared connections is still owed a reply (before a pin).
  awaitable<void> wait_until_idle();
  // Pinned mode (pinned_): the session's PinnedLink, created when first needed.
  PinnedLink& pinned_link();
  // What the dedicated connection holds (a new connection's nothing before the first pin).
  const LinkState& link_state() const;
  void reply_now(std::string_view bytes);
  void complete(std::uint64_t seq, std::string_view bytes);
  // Lets the writer know out_ has bytes, or leaves that to on_batch_end inside a batch.
  void wake_writer();
  // Writes out_ now if the writer is idle (what it would do, minus its wake-up), else wakes it.
  void write_or_wake();
  std::size_t pending() const {
    return replies_.size() + (pinned_ != nullptr ? pinned_->outstanding() : 0);
  }
  std::size_t output_bytes() const { return out_.size() + writing_.size(); }
  bool should_pause() const;
  void maybe_resume();
  // Applies what a relayed command changed (link_state_) to the session and its record (db,
  // MULTI, pub/sub, ...).
  void apply_link_change(const LinkChange& change);
  // RESET: MONITOR stops, the record shows a new client's state.
  void note_reset();
  // MONITOR: watches ctx_.shared->monitors through monitor_ until RESET or the session's end.
  void start_monitoring();
  void stop_monitoring();

  // SessionHost
  tcp::socket& client_socket() override { return socket_; }
  void add_own_buffers(introspection::ClientView& view) const override;
  void answer_locally(std::string_view bytes) override;
  void push_output(std::string_view bytes) override;
  void stop_reading() override { read_done_ = true; }
  bool closed() const override { return closed_; }
  bool pinned() const override { return pinned_ != nullptr && pinned_->linked(); }
  bool pinned_in_multi() const override { return pinned_ != nullptr && pinned_->in_multi(); }
  bool multi_deferred() const override { return pinned_ != nullptr && pinned_->multi_deferred(); }

  tcp::socket socket_;
  WorkerContext& ctx_;
  std::uint64_t id_;
  resp::RequestParser parser_;
  resp::ParsedRequest request_;
  QueryBuffer query_{ctx_.read_buffers};  // holds no memory while the client is idle
  std::string out_;                       // replies ready to write
  std::string writing_;                   // the batch being written
  std::string scratch_;                   // re-encoded inline commands
  ReplyQueue<Slot> replies_;  // one slot per request still owed a reply, in request order
  std::vector<std::uint32_t> key_indexes_;  // the current request's key positions (find_keys)
  util::Signal write_signal_;
  util::Signal resume_signal_;
  asio::cancellation_signal read_cancel_;
  std::chrono::steady_clock::time_point last_activity_;
  CacheEffects cache_effects_;  // what replies and writes do to the L1
  DegradedReplies degraded_;    // answers when the upstream cannot
  SplitForward split_;          // commands whose keys span upstreams
  ClusterRedirects redirects_;  // MOVED / ASK from a cluster shard
  NearReads near_;              // near mode's reads (policies[].l1.mode: near)
  // What near mode decided for the request being dispatched: Lead (its reply ends its near
  // flight), Verify (a near MGET: PTTLs behind it verify its keys' copies), else Forward.
  NearReads::Step near_step_ = NearReads::Step::Forward;
  std::size_t in_upstream_ = 0;  // requests submitted and not yet answered by the connection
  // A connection of moved_up_ taken instead of this session's own, to follow another client's
  // write of a key (write_must_wait); used until nothing of this session is in flight.
  upstream::Connection* moved_to_ = nullptr;
  std::uint32_t moved_up_ = 0;
  bool move_fresh_ = false;  // chosen for the command being dispatched
  std::size_t parked_ = 0;   // of them, reads parked behind a write (ParkedReads)
  // Expected size of a reply still to come: jumps up to any larger reply, decays by 1/8 per
  // smaller one. Starts at 4 KiB, so at most 256 requests go out before the first reply.
  std::size_t avg_reply_bytes_ = 4096;
  bool unparsed_ = false;    // commands left in query_ when reading paused
  bool defer_wake_ = false;  // inside a connection's batch of replies: flush at its end
  bool flush_due_ = false;   // a reply was queued while defer_wake_ was set
  resp::Protocol protocol_ = resp::Protocol::Resp2;  // what the client asked for with HELLO
  bool authenticated_ = false;  // to seawall itself (auth:); unused when auth is off
  bool closed_ = false;
  bool read_done_ = false;
  bool paused_ = false;
  bool trimmed_ = true;                   // nothing to free since the last trim_if_idle
  bool waiting_read_ = false;             // the reader waits for the socket (not inside a command)
  ClientPresence presence_{*this, ctx_};  // CLIENT INFO/LIST, INFO, CLIENT KILL
  std::unique_ptr<MonitorTap> monitor_;   // from the first MONITOR to the session's end
  util::Signal idle_signal_;
  // What pinned_ asks of this session (PinnedHost), defined in session.cpp.
  class PinnedAdapter;
  std::unique_ptr<PinnedAdapter> pinned_host_;
  std::unique_ptr<PinnedLink> pinned_;  // allocated at the first pin or deferred MULTI
};

}  // namespace seawall::proxy
