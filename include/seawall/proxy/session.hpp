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
// while pinned (see relay_local).
//
// Dispatch (dispatch.cpp): each request is answered here, refused, relayed while pinned, or
// forwarded to the upstream of its keys; the forward path hands a command whose keys span
// upstreams to SplitForward, a request its upstream cannot answer to DegradedReplies, and what
// replies and writes do to the L1 to CacheEffects.
//
// Introspection (session_introspection.cpp): the session's ClientRecord in the process-wide
// ClientRegistry shows it in CLIENT INFO / CLIENT LIST; with introspection.client_list or .info
// set to seawall, CLIENT LIST / CLIENT KILL or INFO are answered from the registry.
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
#include "seawall/proxy/client_registry.hpp"
#include "seawall/proxy/degraded_replies.hpp"
#include "seawall/proxy/link_state.hpp"
#include "seawall/proxy/monitor_hub.hpp"
#include "seawall/proxy/reply_queue.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/split_forward.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/proxy/writes_in_flight.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/request_parser.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/link.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/util/lazy_deque.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::proxy {

class Session : public upstream::ReplyTarget,
                public upstream::LinkSink,
                public MonitorSink,
                private PartSender,
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
  void close();

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
  // LinkSink
  void on_link_data(std::string_view bytes) override;
  void on_link_closed() override;
  // MonitorSink
  void on_monitor_line(std::string_view line) override;

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
  // One non-blocking read into rbuf_ (borrowed from the pool first if none is held). Wait:
  // nothing to read yet, and rbuf_ given back unless it holds an incomplete command. End: EOF,
  // a reset (the session is closed) or the query buffer limit.
  enum class ReadStep : std::uint8_t { Data, Wait, End };
  ReadStep read_available();
  // rbuf_ is full (rend_ == rbuf_.size()): makes room at rend_ for more of the current command;
  // false past kMaxQueryBuffer.
  bool make_room();
  // Gives rbuf_ back to the worker's pool once no byte of it is still needed.
  void release_read_buffer();
  awaitable<void> write_loop();
  awaitable<void> idle_loop();
  // Client authentication and the deny list. True when the command was answered here; a HELLO
  // whose AUTH option seawall accepted is rewritten without it and goes on.
  bool answered_locally(resp::ParsedRequest& request, command::Command cmd);
  // A reply seawall computes, in order with the replies already on their way.
  void answer_locally(std::string_view bytes);
  // `cmd`: the request's command, looked up once by read_loop.
  Next dispatch(const resp::ParsedRequest& request, std::string_view raw, command::Command cmd);
  Next dispatch_client_subcommand(const resp::ParsedRequest& request, std::string_view raw,
                                  const command::CommandInfo* client);
  // HELLO without AUTH (with AUTH it pins): answered here, since the shared connections already
  // speak the protocol asked for; it sets the protocol of this session's replies.
  void answer_hello(std::span<const std::string_view> args);
  awaitable<void> open_resp3_connections();
  // key_indexes_ for the request being dispatched: once per request, before write_must_wait.
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
  // Pinned mode: a dedicated upstream connection while the session holds connection state.
  // `cmd`: the request's command (its row's Pin rule).
  bool needs_pin(std::span<const std::string_view> args, command::Command cmd) const;
  // The Pin rules that depend on the arguments (SELECT n, HELLO AUTH, a subcommand's).
  static bool pins_by_arguments(command::Pin pin, const command::CommandInfo* info,
                                std::span<const std::string_view> args);
  awaitable<void> wait_until_idle();
  awaitable<std::string_view> pin(std::span<const std::string_view> args, command::Command cmd);
  Next relay(const resp::ParsedRequest& request, std::string_view raw, command::Command cmd);
  void maybe_unpin();
  void unpin();
  void relay_local(std::string_view bytes);
  // Pinned, while the link's upstream cannot be used (breaker open, journal waiting): answers
  // what must not reach Redis ahead of the journal as the shared path would. True if answered.
  bool answered_while_unavailable(command::Command cmd, std::span<const std::string_view> args);
  // Pinned writes drop the L1 copies of their keys when relayed and again once Redis answered
  // them (EXEC: every key written inside the transaction).
  void note_pinned_write(command::Command cmd, std::span<const std::string_view> args);
  void on_link_reply_counted(std::string_view reply);
  // A swallowed reply: the reply to kClientIdRequest, sent when the link opened, is Redis's id
  // for it (ClientRecord::upstream_id); the reply to a pending SELECT, if refused, ends the
  // session (its commands would run in another database).
  void note_swallowed_reply(std::string_view reply);
  // SELECT n whose pin failed: accepted for the next pin (pending_select_). True if answered.
  bool select_deferred(const command::CommandInfo* info, std::span<const std::string_view> args);
  // CLIENT TRACKING ... REDIRECT <seawall id>: the command with Redis's id of that client's
  // dedicated connection instead, in scratch_; false when nothing needs changing.
  bool redirect_translated(const command::CommandInfo* info,
                           std::span<const std::string_view> args);
  void flush_link_invalidations();
  // MULTI outside a pinned session is answered here and pins at the next command, to the
  // upstream of that command's keys (see read_loop).
  // A transaction whose EXEC may be journaled if Redis does not answer it in time (only plain
  // SETs of journal-mode keys, no WATCH): then a deadline is armed at EXEC.
  bool transaction_journalable() const;
  void arm_exec_deadline(std::uint64_t exec_reply);
  awaitable<void> exec_deadline(std::uint64_t generation, std::uint64_t exec_reply,
                                std::chrono::milliseconds timeout);
  bool exec_answerable(std::uint64_t exec_reply) const;
  void journal_unanswered_exec(bool link_alive);
  // EXEC's reply to a transaction of `sets` plain SETs that ran: every one +OK.
  static void append_exec_of_sets(std::string& out, std::size_t sets);
  // Journals plain SETs (a transaction's) as one write, leaving their values as the L1 copies.
  bool journal_sets(std::size_t upstream, const std::vector<QueuedFill>& sets);
  // Inside a deferred MULTI whose upstream is unavailable: queues a plain SET here.
  // `reach`: Failed when pinning the transaction to its upstream just failed (the breaker may
  // not know yet that the upstream is gone).
  enum class Reach : std::uint8_t { AsBreakerSays, Failed };
  bool queued_locally(command::Command cmd, Reach reach = Reach::AsBreakerSays);
  // A MULTI starts: positions of queued commands count from 0 again.
  void begin_multi_tracking();
  void send_deferred_multi();
  // MULTI (deferred), and EXEC/DISCARD/commands of a deferred MULTI that need no pin: answered
  // here. True when answered.
  bool deferred_multi_answered(command::Command cmd);
  bool replace_local(std::string_view reply);
  void reply_now(std::string_view bytes);
  void complete(std::uint64_t seq, std::string_view bytes);
  // Lets the writer know out_ has bytes, or leaves that to on_batch_end inside a batch.
  void wake_writer();
  // Writes out_ now if the writer is idle (what it would do, minus its wake-up), else wakes it.
  void write_or_wake();
  std::size_t pending() const { return replies_.size() + link_outstanding_; }
  std::size_t output_bytes() const { return out_.size() + writing_.size(); }
  bool should_pause() const;
  void maybe_resume();
  // Introspection (session_introspection.cpp).
  void register_client();
  // A reply relayed from a dedicated connection: updates sub/psub/ssub if it confirms a
  // (un)subscription.
  void note_subscription_reply(std::string_view reply);
  // `info`: command::lookup(args[0]).
  void note_command(const command::CommandInfo* info, std::span<const std::string_view> args);
  // Applies what a relayed command changed (link_state_) to the session and its record (db,
  // MULTI, pub/sub, ...).
  void apply_link_change(const LinkChange& change);
  void note_reset();
  // The user a successful AUTH or HELLO ... AUTH (checked by seawall) authenticated as.
  void note_authenticated_user(command::Command cmd, std::span<const std::string_view> args);
  void set_client_name(std::string_view name);
  std::string client_setinfo(std::string_view attribute, std::string_view value);
  void append_client_info(std::string& out) const;
  // CLIENT ID/INFO/GETNAME/SETNAME/SETINFO (args.size() >= 2), answered for this client and
  // appended to `reply`; false for any other subcommand. Shared sessions always answer these
  // here; pinned ones with client_list: seawall.
  bool client_subcommand_reply(const command::CommandInfo* client,
                               std::span<const std::string_view> args, std::string& reply);
  // Fills what only this session's thread knows: its read buffer and current command.
  void add_own_buffers(introspection::ClientView& view) const;
  // CLIENT LIST / CLIENT KILL / INFO when the config has seawall answer them; true when answered.
  bool answered_by_seawall(command::Command cmd, std::span<const std::string_view> args);
  introspection::InfoData info_data() const;
  // Commands seawall asks Redis on a shared connection and completes itself (session_asks.cpp):
  // INFO with introspection.info: merged, CLIENT PAUSE/UNPAUSE. None when this request is not
  // one, or is queued for EXEC, or is INFO from a RESP2 subscriber (Redis refuses it).
  command::Seawall asked_by_seawall(const command::CommandInfo* info,
                                    std::span<const std::string_view> args) const;
  // Asks Redis outside the breaker's count and answers: INFO's sections merged with seawall's
  // (seawall's alone when Redis cannot answer); PAUSE/UNPAUSE as Redis did, noting the pause
  // for the upstream's connections. Reading waits for it, so the answer keeps its place.
  awaitable<void> ask_upstream(command::Seawall what, const command::CommandInfo* info,
                               std::span<const std::string_view> args);
  // MONITOR (session_asks.cpp): watches ctx_.shared->monitors; RESET or the end of the session
  // stops it. Every command Redis would show is fed there with this client's address and db.
  void start_monitoring();
  void stop_monitoring();
  void feed_monitors(const command::CommandInfo* info, std::span<const std::string_view> args);

  tcp::socket socket_;
  WorkerContext& ctx_;
  std::uint64_t id_;
  resp::RequestParser parser_;
  resp::ParsedRequest request_;
  ReadBuffer rbuf_;  // lent by ctx_.read_buffers while reading; empty when idle
  std::size_t rbegin_ = 0;
  std::size_t rend_ = 0;
  std::string out_;           // replies ready to write
  std::string writing_;       // the batch being written
  std::string scratch_;       // re-encoded inline commands
  ReplyQueue<Slot> replies_;  // one slot per request still owed a reply, in request order
  std::vector<std::uint32_t> key_indexes_;  // the current request's key positions (find_keys)
  util::Signal write_signal_;
  util::Signal resume_signal_;
  asio::cancellation_signal read_cancel_;
  std::chrono::steady_clock::time_point last_activity_;
  CacheEffects cache_effects_;   // what replies and writes do to the L1
  DegradedReplies degraded_;     // answers when the upstream cannot
  SplitForward split_;           // commands whose keys span upstreams
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
  bool unparsed_ = false;    // commands left in rbuf_ when reading paused
  bool defer_wake_ = false;  // inside a connection's batch of replies: flush at its end
  bool flush_due_ = false;
  // Subscriptions as Redis last confirmed them (CLIENT INFO/LIST sub, psub, ssub).
  std::int64_t subscribed_channels_ = 0;
  std::int64_t subscribed_patterns_ = 0;
  std::int64_t subscribed_shard_channels_ = 0;  // a reply was queued while defer_wake_ was set
  std::string client_name_;
  resp::Protocol protocol_ = resp::Protocol::Resp2;  // what the client asked for with HELLO
  bool authenticated_ = false;  // to seawall itself (auth:); unused when auth is off
  bool closed_ = false;
  bool read_done_ = false;
  bool paused_ = false;
  bool registered_ = false;
  bool monitoring_ = false;               // MONITOR: watching ctx_.shared->monitors
  bool trimmed_ = true;                   // nothing to free since the last trim_if_idle
  bool waiting_read_ = false;             // the reader waits for the socket (not inside a command)
  std::shared_ptr<ClientRecord> record_;  // in ctx_.shared->registry from start() to close()
  // Pinned mode state.
  std::shared_ptr<upstream::Link> link_;
  std::uint64_t link_generation_ = 0;   // links opened so far: a deadline knows its own
  std::uint64_t journalable_exec_ = 0;  // reply index of an EXEC that may be journaled, or 0
  std::size_t link_upstream_ = 0;
  std::size_t link_outstanding_ = 0;  // requests relayed whose reply has not come back yet
  std::string link_buf_;              // the incomplete reply being counted
  std::size_t link_emitted_ = 0;      // bytes at the start of link_buf_ already in out_
  // Replies seawall answers itself while pinned, each waiting for Redis's error to the marker
  // command relayed in its place (relay_local), oldest first.
  struct LocalReply {
    std::uint64_t id = 0;
    std::string bytes;
  };
  util::LazyDeque<LocalReply> link_local_;
  std::uint64_t next_local_id_ = 0;
  resp::ReplyFramer link_framer_;
  LinkState link_state_;          // what the link holds: MULTI, WATCH, db, sticky state
  bool multi_deferred_ = false;   // MULTI answered here, not pinned yet
  bool multi_aborted_ = false;    // ...with a queueing error: EXEC answers -EXECABORT
  bool multi_unpinned_ = false;   // ...and the pin failed: its commands get the error too
  std::size_t link_swallow_ = 0;  // leading replies Redis owes that the client never asked for
  bool link_id_wanted_ = false;   // the first swallowed reply is the link's CLIENT ID
  // SELECT n accepted while no dedicated connection could be opened (Redis unavailable): client
  // libraries reconnecting count the SELECT they send first as done, whatever its answer, and
  // resend their commands, which must run in that database once Redis is back, never in db 0.
  // Sent first (swallowed) on the next dedicated connection, which every command then needs.
  std::string pending_select_;
  bool select_wanted_ = false;      // a swallowed reply is that SELECT's
  std::uint64_t link_replies_ = 0;  // complete replies counted on this link
  struct PendingInvalidation {
    std::uint64_t after_reply = 0;  // once this many replies came back
    bool clear_all = false;
    std::vector<std::string> keys;
    std::vector<QueuedFill> fills;  // EXEC: plain SETs whose values the L1 keeps if they ran
    cache::ReadTicket ticket{};
    bool own_reply = false;  // fills of a SET/MSET outside MULTI: its reply is +OK, not EXEC's
    bool marked = false;     // `keys` count in SharedState::writes_in_flight until the reply
    WriteMark mark{};
  };
  // A relayed write's keys count as written in flight (see mark_writes) until its reply or the
  // link's end.
  void mark_pending(PendingInvalidation& pending, WritesInFlight::Owner owner);
  void release_pending(PendingInvalidation& pending);
  std::vector<QueuedFill> multi_fills_;
  std::vector<QueuedFill> local_tx_;  // a deferred MULTI's SETs queued by queued_locally
  std::size_t local_tx_upstream_ = 0;
  std::size_t multi_queued_ = 0;
  util::LazyDeque<PendingInvalidation> link_invalidations_;
  std::vector<std::string> multi_keys_;  // written inside the current transaction
  // Describes a pinned command answered without Redis; allocated when first needed.
  std::unique_ptr<Slot> pinned_slot_;
  util::Signal idle_signal_;
};

}  // namespace seawall::proxy
