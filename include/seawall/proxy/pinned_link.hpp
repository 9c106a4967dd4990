#pragma once
// Pinned mode: a session that starts per-connection state (MULTI, WATCH, SELECT n, a blocking
// command, SUBSCRIBE, HELLO AUTH, CLIENT TRACKING, ...) gets a dedicated upstream connection
// (upstream::Link) for as long as the state lives, then returns to the shared pool. While pinned,
// every command is relayed in order and every byte Redis sends comes back unchanged. PinnedLink
// holds that connection and everything the session must know about it: what it holds
// (LinkState), the replies Redis still owes, the replies seawall answers in their place
// (relay_local), the L1 invalidations and fills waiting for Redis's replies, and a MULTI answered
// before it is pinned. pinned_link.cpp: pinning, relaying, the link's replies;
// pinned_transaction.cpp: writes, transactions and the journal.
//
// Ownership: a member of its Session (unique_ptr), created at the session's first pin or deferred
// MULTI and kept until the session is destroyed, so a coroutine that keeps the session alive
// (PinnedHost::keep_alive) keeps this object alive too. It is the sink of its Link: the link is
// closed (the sink forgotten) or handed to a LinkDrains drain before this object goes.
// Thread safety: the session's worker thread.
// Invariants: linked() while a dedicated connection is open; outstanding() counts the replies
// Redis owes on it (swallowed ones included), so replies are matched to requests in order.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/client_registry.hpp"
#include "seawall/proxy/link_state.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/proxy/writes_in_flight.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/request_parser.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/journal.hpp"
#include "seawall/upstream/link.hpp"
#include "seawall/util/lazy_deque.hpp"

namespace seawall::proxy {

// What PinnedLink asks of its session: its replies and output, its client record, and the
// degraded answers of its forwarding path (the L1 copies a write leaves are CacheEffects').
class PinnedHost {
 public:
  PinnedHost() = default;
  PinnedHost(const PinnedHost&) = delete;
  PinnedHost& operator=(const PinnedHost&) = delete;

  virtual bool closed() const = 0;
  // Keeps the session (and so its PinnedLink) alive, for a coroutine spawned on its behalf.
  virtual std::shared_ptr<void> keep_alive() = 0;
  virtual ClientRecord& record() = 0;
  // What the client asked for with HELLO.
  virtual resp::Protocol protocol() const = 0;
  // The session's scratch buffer (re-encoded commands), and the current request's key
  // positions, found once by the session before the request reaches the link (also read by
  // describe).
  virtual std::string& scratch() = 0;
  virtual const std::vector<std::uint32_t>& key_indexes() const = 0;

  // A reply in request order, with the session's other replies.
  virtual void reply_now(std::string_view bytes) = 0;
  // Replies ready to write; after appending, write_or_wake or notify_writer.
  virtual std::string& output() = 0;
  virtual std::size_t output_bytes() const = 0;
  virtual void notify_writer() = 0;
  virtual void write_or_wake() = 0;
  virtual void maybe_resume() = 0;
  virtual void close() = 0;
  virtual void begin_drain() = 0;
  // Until nothing the session sent on shared connections is still owed a reply.
  virtual awaitable<void> wait_until_idle() = 0;

  // The client record: what a relayed command changed (db, MULTI, protocol, ...), and
  // (un)subscriptions Redis confirmed.
  virtual void apply_link_change(const LinkChange& change) = 0;
  virtual void note_subscription_reply(std::string_view reply) = 0;

  // The forwarding path's view of a request (key_indexes() holds its key positions) and its
  // answer while the upstream cannot be used.
  virtual void describe(RequestSlot& slot, const command::CommandInfo* info,
                        std::span<const std::string_view> args, std::size_t up) = 0;
  virtual std::string_view degraded_answer(RequestSlot& slot) = 0;
  virtual void note_activity(std::chrono::steady_clock::time_point now) = 0;
  // The session as the sender of writes it journals itself.
  virtual WritesInFlight::Owner write_owner() const = 0;

 protected:
  ~PinnedHost() = default;
};

class PinnedLink final : public upstream::LinkSink {
 public:
  enum class Next : std::uint8_t { Continue, StopReading };
  // What read_loop does with a request that wanted a pin (pin_or_answer).
  enum class Step : std::uint8_t {
    Relay,     // pinned: relay it
    Answered,  // answered without a pin: on to the next request
    Stop,      // the session closed: stop reading
  };

  PinnedLink(PinnedHost& host, WorkerContext& ctx, asio::any_io_executor executor,
             std::uint64_t client_id);
  ~PinnedLink() override;
  PinnedLink(const PinnedLink&) = delete;
  PinnedLink& operator=(const PinnedLink&) = delete;

  // Whether a request on an unpinned session must pin it first (or belongs to a deferred MULTI);
  // `link` may be null (the session never pinned). `cmd`: the request's command (its row's Pin
  // rule).
  static bool wanted(const PinnedLink* link, std::span<const std::string_view> args,
                     command::Command cmd);
  // For a request that wanted(): MULTI (deferred), and EXEC/DISCARD/commands of a deferred MULTI
  // that need no pin, are answered here; otherwise, once everything sent before has run, the
  // dedicated connection is opened (or the pin's failure answered).
  awaitable<Step> pin_or_answer(std::span<const std::string_view> args, command::Command cmd);
  Next relay(const resp::ParsedRequest& request, std::string_view raw, command::Command cmd);
  // A reply seawall computes (auth, deny list): true when it went in order through the link.
  bool relayed_local(std::string_view bytes);
  // The session ends: the dedicated connection closes.
  void close_link();
  // Upstream `index`'s master moved: a link to it closes as if Redis had closed it.
  void upstream_moved(std::size_t index);
  // The client stopped sending: with pushes (or CLIENT REPLY OFF) the reply count says nothing,
  // so Redis is sent the end of input instead, answers what it was sent, and closes.
  void finish_if_uncountable();
  // Redis still owes replies the writer must wait for (or closes the connection after QUIT).
  bool owes_replies() const;

  bool linked() const { return link_ != nullptr; }
  bool in_multi() const { return link_ && link_state_.in_multi(); }
  bool multi_deferred() const { return multi_deferred_; }
  std::size_t outstanding() const { return link_outstanding_; }
  std::size_t upstream() const { return link_upstream_; }
  const LinkState& state() const { return link_state_; }
  LinkState& state() { return link_state_; }
  // Keys written inside the current transaction.
  const std::vector<std::string>& multi_keys() const { return multi_keys_; }
  WritesInFlight::Owner write_owner() const { return WritesInFlight::owner_of(link_.get()); }

  // Heap bytes of its buffers and containers (capacities); trim frees what an idle session
  // does not need.
  std::size_t heap_bytes() const;
  void trim();

  // LinkSink
  void on_link_data(std::string_view bytes) override;
  void on_link_closed() override;

 private:
  using Slot = RequestSlot;
  using WriteMark = WritesInFlight::Marked;

  static bool needs_pin(std::span<const std::string_view> args, command::Command cmd);
  // The Pin rules that depend on the arguments (SELECT n, HELLO AUTH, a subcommand's).
  static bool pins_by_arguments(command::Pin pin, const command::CommandInfo* info,
                                std::span<const std::string_view> args);
  awaitable<std::string_view> pin(std::span<const std::string_view> args, command::Command cmd);
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
  // A client's own AUTH (or HELLO ... AUTH) relayed to Redis: once Redis accepted it, the
  // client record's user is the one it named, for CLIENT INFO/LIST and CLIENT KILL USER.
  void note_relayed_auth(command::Command cmd, std::span<const std::string_view> args);
  void note_auth_reply(std::string_view reply);
  // A swallowed reply: the reply to kClientIdRequest, sent when the link opened, is Redis's id
  // for it (ClientRecord::upstream_id).
  void note_swallowed_reply(std::string_view reply);
  // CLIENT TRACKING ... REDIRECT <seawall id>: the command with Redis's id of that client's
  // dedicated connection instead, in scratch(); false when nothing needs changing.
  bool redirect_translated(const command::CommandInfo* info,
                           std::span<const std::string_view> args);
  void flush_link_invalidations();
  // MULTI outside a pinned session is answered here and pins at the next command, to the
  // upstream of that command's keys (see pin_or_answer).
  // A transaction whose EXEC may be journaled if Redis does not answer it in time (only plain
  // SETs of journal-mode keys, no WATCH): then a deadline is armed at EXEC.
  bool transaction_journalable() const;
  void arm_exec_deadline(std::uint64_t exec_reply);
  awaitable<void> exec_deadline(std::shared_ptr<void> keep_alive, std::uint64_t generation,
                                std::uint64_t exec_reply, std::chrono::milliseconds timeout);
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
  bool queued_locally(std::span<const std::string_view> args, command::Command cmd,
                      Reach reach = Reach::AsBreakerSays);
  // A MULTI starts: positions of queued commands count from 0 again.
  void begin_multi_tracking();
  void send_deferred_multi();
  // MULTI (deferred), and EXEC/DISCARD/commands of a deferred MULTI that need no pin: answered
  // here. True when answered.
  bool deferred_multi_answered(std::span<const std::string_view> args, command::Command cmd);
  bool replace_local(std::string_view reply);

  PinnedHost& host_;
  WorkerContext& ctx_;
  CacheEffects cache_effects_{ctx_};  // the L1 copies its writes leave
  asio::any_io_executor executor_;
  std::uint64_t client_id_;
  std::shared_ptr<upstream::Link> link_;
  std::uint64_t link_generation_ = 0;   // links opened so far: a deadline knows its own
  std::uint64_t journalable_exec_ = 0;  // reply index of an EXEC that may be journaled, or 0
  std::size_t link_upstream_ = 0;
  std::size_t link_outstanding_ = 0;  // requests relayed whose reply has not come back yet
  std::string link_buf_;              // the incomplete reply being counted
  std::size_t link_emitted_ = 0;      // bytes at the start of link_buf_ already in output()
  // Replies seawall answers itself while pinned, each waiting for Redis's error to the marker
  // command relayed in its place (relay_local), oldest first.
  struct LocalReply {
    std::uint64_t id = 0;
    std::string bytes;
  };
  util::LazyDeque<LocalReply> link_local_;
  std::uint64_t next_local_id_ = 0;
  resp::ReplyFramer link_framer_;
  LinkState link_state_;         // what the link holds: MULTI, WATCH, db, sticky state
  bool multi_deferred_ = false;  // MULTI answered here, not pinned yet
  bool multi_aborted_ = false;   // ...with a queueing error: EXEC answers -EXECABORT
  // ...and the pin failed with this error: the transaction's later commands get it too.
  std::string multi_pin_error_;
  std::size_t link_swallow_ = 0;    // leading replies Redis owes that the client never asked for
  bool link_id_wanted_ = false;     // the first swallowed reply is the link's CLIENT ID
  std::uint64_t link_replies_ = 0;  // complete replies counted on this link
  struct PendingUser {
    std::uint64_t reply = 0;  // the AUTH's reply: link_replies_ once it came
    std::string user;
  };
  std::vector<PendingUser> pending_users_;  // relayed AUTHs Redis has not answered, oldest first
  struct PendingInvalidation {
    std::uint64_t after_reply = 0;  // once this many replies came back
    bool clear_all = false;
    std::vector<std::string> keys;
    std::vector<QueuedFill> fills;  // EXEC: plain SETs whose values the L1 keeps if they ran
    cache::ReadTicket ticket{};
    bool own_reply = false;  // fills of a SET/MSET outside MULTI: its reply is +OK, not EXEC's
    bool marked = false;     // `keys` count in SharedState::writes_in_flight until the reply
    bool exec = false;       // an EXEC: -EXECABORT or a nil (a WATCH fired) ran none of it
    WriteMark mark{};
    // The keys' copies dropped at the sending, back if Redis refuses it unrun (as on the shared
    // path: CacheEffects::withhold_keys).
    cache::ReplyCache::Withheld withheld;
  };
  // A relayed write's keys count as written in flight (see RequestSlot::mark_writes) until its
  // reply or the link's end.
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
};

}  // namespace seawall::proxy
