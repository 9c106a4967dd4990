// Session: pinned mode. A session that starts per-connection state gets a dedicated upstream
// connection (upstream::Link) for as long as the state lives, then returns to the shared pool.
// While pinned, every command is relayed in order and every byte Redis sends comes back
// unchanged, so transactions, blocking commands, pub/sub, MONITOR, RESP3 and CLIENT REPLY work
// exactly as against Redis.
//
// Replies seawall answers itself while pinned (NOAUTH, a denied command, an AUTH checked here)
// must take their place among the replies Redis still owes. Such a reply is sent as a marker: a
// command Redis does not know, "seawall-local-reply-<id>", relayed in the command's place. Redis
// answers it, in order, with "-ERR unknown command 'seawall-local-reply-<id>', ...", which
// on_link_data replaces with the local reply. Inside MULTI that error is a queueing error, so
// Redis answers the EXEC with -EXECABORT, exactly as it treats a command it refuses itself.
// The id keeps replies matched when Redis sends none for a marker (CLIENT REPLY OFF or SKIP).
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

using util::iequals;

bool any_arg(std::span<const std::string_view> args, std::size_t from, std::string_view word) {
  for (std::size_t i = from; i < args.size(); ++i) {
    if (iequals(args[i], word)) {
      return true;
    }
  }
  return false;
}

constexpr std::string_view kMarkerPrefix = "seawall-local-reply-";
// Redis echoes at most 128 bytes of an unknown command's name; its whole error stays short.
constexpr std::size_t kMaxMarkerReply = 512;

// The id in Redis's error reply to a marker command, or false when the reply is not one.
bool marker_id(std::string_view reply, std::uint64_t& id) {
  if (reply.size() > kMaxMarkerReply) {
    return false;
  }
  const auto it =
      std::search(reply.begin(), reply.end(), kMarkerPrefix.begin(), kMarkerPrefix.end(),
                  [](char a, char b) { return util::ascii_lower(a) == b; });
  if (it == reply.end()) {
    return false;
  }
  const char* first = &*it + kMarkerPrefix.size();
  const char* last = reply.data() + reply.size();
  const auto [end, ec] = std::from_chars(first, last, id);
  return ec == std::errc() && end != first;
}

}  // namespace

bool Session::needs_pin(std::span<const std::string_view> args, command::Command cmd) const {
  const command::CommandInfo* info = cmd.info;
  if (info == nullptr || !command::arity_ok(*info, args.size())) {
    return false;
  }
  if (!pending_select_.empty()) {
    return true;  // its database is on a dedicated connection only
  }
  using command::Pin;
  switch (cmd.rule().pin) {
    case Pin::Always:
      // SYNC/PSYNC turn the connection into a replication stream: never a shared one.
      return true;
    case Pin::WithBlockArg:
      return any_arg(args, 1, command::kBlockOption);
    case Pin::ByFlags:
      break;
    case Pin::NonZeroDb:
    case Pin::WithAuthArg:
    case Pin::BusySubcommand:
    case Pin::BySubcommand:
      if (info->has(command::kBlocking)) {
        return true;
      }
      return pins_by_arguments(cmd.rule().pin, info, args);
  }
  return info->has(command::kBlocking);
}

bool Session::pins_by_arguments(command::Pin pin, const command::CommandInfo* info,
                                std::span<const std::string_view> args) {
  using command::Pin;
  switch (pin) {
    case Pin::NonZeroDb:
      return args[1] != "0";
    case Pin::WithAuthArg:
      // The client's own AUTH (seawall's auth: took its AUTH out already) makes the connection
      // its user's; without AUTH, HELLO is answered by the session in either protocol.
      return any_arg(args, 2, command::kAuthOption);
    case Pin::BusySubcommand: {
      if (args.size() < 2) {
        return false;
      }
      // SCRIPT KILL, FUNCTION KILL and FUNCTION STATS are what Redis runs while a script is
      // busy: on a shared connection they would queue behind that very script (perhaps forever).
      const command::CommandInfo* sub = command::resolve(info, args);
      return sub != nullptr && sub->has(command::kAllowBusy);
    }
    case Pin::BySubcommand: {
      if (args.size() < 2) {
        return false;
      }
      const command::CommandInfo* sub = command::resolve(info, args);
      return sub != nullptr && command::rules(*sub).pin == Pin::Always;
    }
    case Pin::ByFlags:
    case Pin::Always:
    case Pin::WithBlockArg:
      break;
  }
  return false;
}

awaitable<void> Session::wait_until_idle() {
  while (!closed_ && (!replies_.empty() || in_upstream_ > 0)) {
    co_await idle_signal_.wait();
  }
}

awaitable<std::string_view> Session::pin(std::span<const std::string_view> args,
                                         command::Command cmd) {
  SharedState& shared = *ctx_.shared;
  if (shared.pinned.fetch_add(1, std::memory_order_relaxed) >= ctx_.config->limits.max_pinned) {
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    co_return resp::replies::kTooManyPinned;
  }
  // A blocking command's key decides the upstream; keyless state (MULTI, SUBSCRIBE) goes to
  // the default upstream.
  std::size_t up = ctx_.snapshot->router.default_index();
  if (const command::CommandInfo* info = cmd.info) {
    key_indexes_.clear();
    command::key_indexes(*info, args, key_indexes_);
    if (!key_indexes_.empty()) {
      up = ctx_.snapshot->router.route(args[key_indexes_[0]]);
    }
  }
  upstream::UpstreamState& state = *shared.upstreams[up];
  const auto now = std::chrono::steady_clock::now();
  breaker::CircuitBreaker& breaker = state.breaker();
  breaker::Permit permit;
  if (state.ready()) {
    permit = breaker.try_acquire(now);
  }
  if (!permit.allowed()) {
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    shared.fallback.counters().count(policy::Source::Error);
    co_return std::string_view(state.no_fallback_error());
  }
  // A RESP3 session's dedicated connection speaks RESP3 from the start (its HELLO 3 was
  // answered by seawall, not relayed).
  auto link = std::make_shared<upstream::Link>(
      socket_.get_executor(), ctx_.config->upstreams[up], this,
      protocol_ == resp::Protocol::Resp3 ? upstream::Protocol::Resp3 : upstream::Protocol::None,
      &state.scripts());
  const bool opened = co_await link->open();
  breaker.record(permit, opened ? breaker::Outcome::Success : breaker::Outcome::Failure,
                 std::chrono::steady_clock::now() - now, std::chrono::steady_clock::now());
  if (!opened || closed_) {
    link->close();
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    co_return closed_ ? std::string_view() : std::string_view(state.no_fallback_error());
  }
  link_ = std::move(link);
  ++link_generation_;
  journalable_exec_ = 0;
  link_upstream_ = up;
  link_outstanding_ = 0;
  link_buf_.clear();
  link_emitted_ = 0;
  link_local_.clear();
  link_framer_.reset();
  link_swallow_ = 0;
  link_replies_ = 0;
  flush_link_invalidations();
  multi_keys_.clear();
  link_state_.opened();
  // Redis's id for this connection, for a CLIENT TRACKING REDIRECT to this client (its reply is
  // swallowed: the client never asked). Not before an admin command (SYNC, PSYNC): Redis refuses
  // SYNC while a reply is still pending, and such a connection is never a redirect target.
  if (cmd.info == nullptr || !cmd.info->has(command::kAdmin)) {
    link_->send(command::kClientIdRequest);
    ++link_outstanding_;
    ++link_swallow_;
    link_id_wanted_ = true;
  }
  if (!pending_select_.empty()) {
    link_->send(pending_select_);
    ++link_outstanding_;
    ++link_swallow_;
    select_wanted_ = true;
    link_state_.selected_pending();
    pending_select_.clear();
  }
  co_return std::string_view();
}

void Session::flush_link_invalidations() {
  // Replies not counted (CLIENT REPLY OFF, a closed link): invalidate now rather than never.
  for (PendingInvalidation& pending : link_invalidations_) {
    if (pending.clear_all) {
      ctx_.shared->cache.clear();
    }
    for (const std::string& key : pending.keys) {
      ctx_.shared->cache.invalidate_key(key);
    }
    release_pending(pending);
  }
  link_invalidations_.clear();
}

void Session::mark_pending(PendingInvalidation& pending, WritesInFlight::Owner owner) {
  pending.mark = ctx_.shared->writes_in_flight.mark_all(pending.keys, owner);
  pending.marked = true;
}

void Session::release_pending(PendingInvalidation& pending) {
  if (!pending.marked) {
    return;
  }
  pending.marked = false;
  ctx_.shared->writes_in_flight.release_all(pending.keys);
}

void Session::unpin() {
  record_->set_upstream_id(0);
  flush_link_invalidations();
  link_->close();
  link_.reset();
  ctx_.shared->pinned.fetch_sub(1, std::memory_order_relaxed);
}

void Session::maybe_unpin() {
  if (link_ && link_outstanding_ == 0 && link_swallow_ == 0 && !link_state_.holds_state()) {
    unpin();
  }
}

Session::Next Session::relay(const resp::ParsedRequest& request, std::string_view raw,
                             command::Command cmd) {
  const auto& args = request.args;
  const command::CommandInfo* looked_up = cmd.info;
  ctx_.shared->count_command(looked_up);
  if (answered_while_unavailable(cmd, args)) {
    return Next::Continue;
  }
  if (link_state_.in_multi() && looked_up != nullptr && !ctx_.snapshot->router.single_upstream()) {
    // A transaction runs on one upstream, as one on Redis Cluster runs in one slot: a key of
    // another upstream is refused at queueing, so Redis aborts the EXEC.
    key_indexes_.clear();
    command::key_indexes(*looked_up, args, key_indexes_);
    for (std::uint32_t k : key_indexes_) {
      if (ctx_.snapshot->router.route(args[k]) != link_upstream_) {
        relay_local(resp::replies::kCrossUpstream);
        return Next::Continue;
      }
    }
  }
  note_pinned_write(cmd, args);
  std::string_view bytes = raw;
  if (request.kind == resp::RequestKind::Inline) {
    scratch_.clear();
    resp::append_command(scratch_, args);
    bytes = scratch_;
  }
  if (redirect_translated(looked_up, args)) {
    bytes = scratch_;
  }
  // Track the state Redis now holds for this connection, to know when it ends.
  Next next = Next::Continue;
  if (looked_up != nullptr) {
    const bool client_pins = cmd.rule().state == command::State::Client && needs_pin(args, cmd);
    const LinkChange change = link_state_.relayed(cmd, args, client_pins);
    if (cmd.rule().state == command::State::EndsMulti) {
      multi_keys_.clear();
    }
    apply_link_change(change);
    if (change.stop_reading) {
      next = Next::StopReading;
    }
  }
  ++link_outstanding_;
  link_->send(bytes);
  return next;
}

bool Session::answered_while_unavailable(command::Command cmd,
                                         std::span<const std::string_view> args) {
  const command::CommandInfo* info = cmd.info;
  if (info == nullptr || !command::arity_ok(*info, args.size())) {
    return false;  // Redis words the error
  }
  upstream::UpstreamState& state = *ctx_.shared->upstreams[link_upstream_];
  const auto now = std::chrono::steady_clock::now();
  if (state.available(now)) {
    return false;
  }
  if (link_state_.in_multi()) {
    if (cmd.rule().runs_queued) {
      // Nothing queued may run ahead of the journal. A marker makes a queueing error, so Redis
      // discards the transaction and answers this EXEC -EXECABORT (the marker's own error is
      // replaced by nothing: the client sent no command for it). Nothing ran, so the L1 keeps
      // the copies of the transaction's keys.
      relay_local({});
      multi_keys_.clear();
      multi_fills_.clear();
    }
    return false;  // queued commands wait for EXEC
  }
  key_indexes_.clear();
  command::key_indexes(*info, args, key_indexes_);
  if (key_indexes_.empty()) {
    return false;  // PING, SUBSCRIBE, CLIENT ...: nothing the journal orders
  }
  if (!pinned_slot_) {
    pinned_slot_ = std::make_unique<Slot>();
  }
  Slot& slot = *pinned_slot_;
  slot.reset();
  describe(slot, info, args, link_upstream_);
  last_activity_ = now;
  if (link_state_.db_nonzero() || info->has(command::kBlocking) ||
      (!slot.is_read && !slot.is_write)) {
    // The L1 and the journal are about database 0, and a blocking pop cannot be journaled.
    ctx_.shared->fallback.counters().count(policy::Source::Error);
    relay_local(slot.is_write ? state.write_rejected_error() : state.no_fallback_error());
    return true;
  }
  relay_local(degraded_.answer(slot));
  return true;
}

void Session::note_pinned_write(command::Command cmd, std::span<const std::string_view> args) {
  const command::CommandInfo* info = cmd.info;
  if (info == nullptr || link_state_.db_nonzero()) {
    return;  // the L1 holds database 0 only
  }
  cache::ReplyCache& cache = ctx_.shared->cache;
  const std::uint64_t reply_index = link_replies_ + link_outstanding_;
  if (cmd.rule().state == command::State::Multi && !link_state_.in_multi()) {
    begin_multi_tracking();
    return;
  }
  if (cmd.rule().runs_queued && link_state_.in_multi()) {
    if (!multi_keys_.empty()) {
      // The transaction's writes happen now: their invalidation and ticket belong here, as a
      // shared write's belong to its sending (see fill_written).
      for (const std::string& key : multi_keys_) {
        cache.invalidate_key(key);
      }
      const bool journalable = transaction_journalable();
      PendingInvalidation pending{reply_index + 1, false, std::move(multi_keys_), {}, {}};
      pending.fills = std::move(multi_fills_);
      journalable_exec_ = journalable ? reply_index + 1 : 0;
      if (journalable) {
        arm_exec_deadline(reply_index + 1);
      }
      pending.ticket = cache.begin_read();
      mark_pending(pending, WritesInFlight::owner_of(link_.get()));
      link_invalidations_.push_back(std::move(pending));
      multi_keys_.clear();
      multi_fills_.clear();
    }
    return;
  }
  const std::size_t queued = link_state_.in_multi() ? multi_queued_++ : 0;
  const bool flush = flushes_everything(*info);
  if (!flush && !is_write_command(*info)) {
    return;
  }
  if (flush) {
    cache.clear();
    link_invalidations_.push_back(PendingInvalidation{reply_index + 1, true, {}, {}, {}});
    return;
  }
  key_indexes_.clear();
  command::key_indexes(*info, args, key_indexes_);
  PendingInvalidation pending{reply_index + 1, false, {}, {}, {}};
  for (std::uint32_t k : key_indexes_) {
    if (link_state_.in_multi()) {
      multi_keys_.emplace_back(args[k]);  // queued: it runs, and invalidates, at EXEC
    } else {
      cache.invalidate_key(args[k]);
      pending.keys.emplace_back(args[k]);
    }
  }
  if (link_state_.in_multi() && cmd.rule().written == command::WrittenValue::KeyValue &&
      args.size() == 3) {
    // A plain SET in the transaction: its value is what GET answers once EXEC ran it.
    multi_fills_.push_back(QueuedFill{queued, std::string(args[1]), std::string(args[2])});
  }
  if (!pending.keys.empty()) {
    // A plain SET or MSET leaves its values as the L1 copies once Redis said +OK, as on the
    // shared path, so the key can still be read through an outage that follows.
    if (proxy::writes_value(info, args, ctx_.snapshot->policies.match(args[1]))) {
      for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
        pending.fills.push_back(QueuedFill{0, std::string(args[i]), std::string(args[i + 1])});
      }
      pending.own_reply = true;
      pending.ticket = cache.begin_read();
    }
    // A blocking write may wait for ever: no write waits for it (kMixed: no order kept).
    mark_pending(pending, info->has(command::kBlocking) ? WritesInFlight::kMixed
                                                        : WritesInFlight::owner_of(link_.get()));
    link_invalidations_.push_back(std::move(pending));
  }
}

void Session::on_link_reply_counted(std::string_view reply) {
  ++link_replies_;
  while (!link_invalidations_.empty() && link_invalidations_.front().after_reply <= link_replies_) {
    PendingInvalidation& done = link_invalidations_.front();
    if (done.clear_all) {
      ctx_.shared->cache.clear();
    }
    std::vector<std::string_view> elements;
    bool ran = false;
    if (!done.fills.empty() && done.after_reply == link_replies_) {
      if (done.own_reply) {
        elements.assign(1, reply);
        ran = true;
      } else {
        ran = split_reply_array(reply, elements);
      }
    }
    const auto filled = [&](const std::string& key) {
      return ran && std::any_of(done.fills.begin(), done.fills.end(),
                                [&](const QueuedFill& f) { return f.key == key; });
    };
    if (ran) {
      // Before any invalidation of this reply: it would make the ticket look raced.
      const auto now = std::chrono::steady_clock::now();
      for (const QueuedFill& fill : done.fills) {
        if (fill.index < elements.size() && elements[fill.index] == resp::replies::kOk) {
          cache_effects_.store_written_value(done.ticket, fill.key, fill.value, now, done.mark);
        } else {
          ctx_.shared->cache.invalidate_key(fill.key);
        }
      }
    }
    for (const std::string& key : done.keys) {
      if (!filled(key)) {
        ctx_.shared->cache.invalidate_key(key);
      }
    }
    release_pending(done);
    link_invalidations_.pop_front();
  }
}

bool Session::transaction_journalable() const {
  // Only plain SETs, without WATCH: the journal can hold them and seawall can compute EXEC's
  // reply (every one +OK).
  if (link_state_.watching() || multi_fills_.empty() || multi_fills_.size() != multi_queued_) {
    return false;
  }
  return std::all_of(multi_fills_.begin(), multi_fills_.end(), [&](const QueuedFill& f) {
    return ctx_.snapshot->policies.match(f.key).writes_when_open == policy::WritesWhenOpen::Journal;
  });
}

void Session::arm_exec_deadline(std::uint64_t exec_reply) {
  if (link_upstream_ >= ctx_.config->upstreams.size()) {
    return;
  }
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(),
      [self, exec_reply, generation = link_generation_,
       timeout = ctx_.config->upstreams[link_upstream_].request_timeout] {
        return self->exec_deadline(generation, exec_reply, timeout);
      },
      util::on_coroutine_done("proxy", "EXEC deadline"));
}

awaitable<void> Session::exec_deadline(std::uint64_t generation, std::uint64_t exec_reply,
                                       std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  asio::steady_timer timer(socket_.get_executor());
  timer.expires_after(timeout);
  co_await timer.async_wait(use_nothrow);
  if (!closed_ && link_ && generation == link_generation_ && exec_answerable(exec_reply)) {
    journal_unanswered_exec(true);
  }
}

bool Session::exec_answerable(std::uint64_t exec_reply) const {
  // Still waiting for this EXEC of plain SETs, and nothing else outstanding or held on the link.
  return link_replies_ < exec_reply && link_replies_ + link_outstanding_ == exec_reply &&
         link_local_.empty() && link_buf_.empty() && !link_state_.in_multi() &&
         !link_state_.watching() && !link_state_.db_nonzero() && !link_state_.sticky() &&
         !link_invalidations_.empty() && link_invalidations_.back().after_reply == exec_reply &&
         !link_invalidations_.back().fills.empty() && link_outstanding_ >= link_swallow_ + 1;
}

void Session::journal_unanswered_exec(bool link_alive) {
  // Redis did not answer the EXEC in time, or the connection dropped before it did. As for a
  // shared write that failed so (see journaled_after_failure), its SETs are journaled and the
  // client gets the replies Redis would have sent. A link still open, which Redis may still
  // answer, is left to a drain that keeps the upstream's replay waiting until the late EXEC has
  // run or the connection has ended.
  const PendingInvalidation& tx = link_invalidations_.back();
  if (!journal_sets(link_upstream_, tx.fills)) {
    return;  // journal full or unwritable: the client waits for Redis
  }
  upstream::UpstreamState& state = *ctx_.shared->upstreams[link_upstream_];
  // The QUEUED replies not come yet (the MULTI's own +OK, if owed, was answered already), then
  // EXEC's: every SET +OK.
  for (std::size_t i = link_swallow_ + 1; i < link_outstanding_; ++i) {
    out_.append(resp::replies::kQueued);
  }
  append_exec_of_sets(out_, tx.fills.size());
  const std::size_t owed = link_outstanding_;
  release_pending(link_invalidations_.back());  // journaled: its outcome is known
  link_invalidations_.pop_back();
  flush_link_invalidations();
  if (link_alive) {
    ctx_.drains->adopt(std::move(link_), owed, state.in_doubt());
  }
  link_.reset();
  journalable_exec_ = 0;
  ctx_.shared->pinned.fetch_sub(1, std::memory_order_relaxed);
  link_outstanding_ = 0;
  link_swallow_ = 0;
  write_or_wake();
  maybe_resume();
}

void Session::append_exec_of_sets(std::string& out, std::size_t sets) {
  resp::append_array_header(out, sets);
  for (std::size_t i = 0; i < sets; ++i) {
    out.append(resp::replies::kOk);
  }
}

bool Session::journal_sets(std::size_t upstream, const std::vector<QueuedFill>& sets) {
  // One MSET: the journal stores a write's entries together, so the transaction is all or none.
  thread_local std::vector<std::string_view> mset;
  mset.assign({command::kMsetName});
  for (const QueuedFill& f : sets) {
    mset.push_back(f.key);
    mset.push_back(f.value);
  }
  cache::ReplyCache& cache = ctx_.shared->cache;
  WritesInFlight& writes = ctx_.shared->writes_in_flight;
  // Written in flight until the journal has them, as in degraded_answer.
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  for (const QueuedFill& f : sets) {
    keys.emplace_back(f.key);
  }
  writes.mark_all(keys, WritesInFlight::owner_of(this));
  for (const QueuedFill& f : sets) {
    cache.invalidate_key(f.key);
  }
  const cache::ReadTicket ticket = cache.begin_read();
  if (ctx_.shared->upstreams[upstream]->journal().append(mset, upstream::Journal::Mode::Journal,
                                                         std::chrono::system_clock::now()) !=
      upstream::Journal::Append::Ok) {
    writes.release_all(keys);
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  const upstream::Journal& journal = ctx_.shared->upstreams[upstream]->journal();
  for (const QueuedFill& f : sets) {
    cache_effects_.store_written_value(ticket, f.key, f.value, now, WriteMark{}, &journal);
  }
  writes.release_all(keys);
  ctx_.shared->fallback.counters().writes_journaled.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Session::begin_multi_tracking() {
  multi_queued_ = 0;
  multi_keys_.clear();
  multi_fills_.clear();
}

void Session::send_deferred_multi() {
  multi_deferred_ = false;
  begin_multi_tracking();  // relay() never saw this MULTI
  link_state_.multi_sent();
  ++link_outstanding_;
  ++link_swallow_;  // its +OK was answered when the client sent MULTI
  link_->send("*1\r\n$5\r\nMULTI\r\n");
  if (multi_aborted_) {
    relay_local({});  // a command refused before the pin: Redis must abort the EXEC too
    multi_aborted_ = false;
  }
}

void Session::relay_local(std::string_view bytes) {
  if (link_outstanding_ == 0 && link_local_.empty() && link_buf_.empty() &&
      !link_state_.in_multi() && !link_state_.sticky()) {
    // Redis owes nothing, and no state makes the reply count drift: answer at once.
    out_.append(bytes);
    write_signal_.notify();
    return;
  }
  const std::uint64_t id = next_local_id_++;
  link_local_.push_back(LocalReply{id, std::string(bytes)});
  std::array<char, kMarkerPrefix.size() + 20> name{};
  std::copy(kMarkerPrefix.begin(), kMarkerPrefix.end(), name.begin());
  const auto [end, ec] =
      std::to_chars(name.data() + kMarkerPrefix.size(), name.data() + name.size(), id);
  const std::array<std::string_view, 1> marker{
      std::string_view(name.data(), static_cast<std::size_t>(end - name.data()))};
  scratch_.clear();
  resp::append_command(scratch_, marker);
  ++link_outstanding_;
  link_->send(scratch_);
}

bool Session::replace_local(std::string_view reply) {
  std::uint64_t id = 0;
  if (!marker_id(reply, id)) {
    return false;
  }
  // Markers before this one got no reply (CLIENT REPLY OFF/SKIP): neither do their commands.
  while (!link_local_.empty() && link_local_.front().id < id) {
    link_local_.pop_front();
  }
  if (link_local_.empty() || link_local_.front().id != id) {
    return false;  // not a marker of ours: the client sent that name itself
  }
  out_.append(link_local_.front().bytes);
  link_local_.pop_front();
  return true;
}

void Session::on_link_data(std::string_view bytes) {
  if (closed_) {
    return;
  }
  // While local replies wait for their markers, only complete replies go out, so a marker's
  // reply can be swapped; otherwise bytes stream through as they come.
  const bool hold = !link_local_.empty() || link_swallow_ > 0;
  link_buf_.append(bytes);
  if (!hold) {
    out_.append(bytes);
    link_emitted_ = link_buf_.size();
  }
  // Count complete replies so the session can leave pinned mode once its state has ended.
  std::size_t consumed = 0;
  while (consumed < link_buf_.size()) {
    resp::FramedReply reply;
    const resp::errc e = link_framer_.feed(std::string_view(link_buf_).substr(consumed), reply);
    if (e != resp::errc::ok) {
      if (e != resp::errc::need_more) {
        // Cannot follow the stream: pass it on unchanged and stay pinned until the client
        // leaves. Local replies still waiting are lost with the reply count.
        link_state_.stick();
        out_.append(std::string_view(link_buf_).substr(std::max(consumed, link_emitted_)));
        link_local_.clear();
        link_buf_.clear();
        link_emitted_ = 0;
        consumed = 0;
      }
      break;
    }
    if (hold && link_swallow_ > 0) {
      --link_swallow_;  // a reply to a command seawall sent on the client's behalf
      note_swallowed_reply(std::string_view(link_buf_).substr(consumed, reply.length));
    } else if (hold) {
      const std::string_view whole = std::string_view(link_buf_).substr(consumed, reply.length);
      if (reply.type != '-' || !replace_local(whole)) {
        // A reply that began streaming before the hold keeps its bytes already sent.
        const std::size_t sent = link_emitted_ > consumed ? link_emitted_ - consumed : 0;
        out_.append(whole.substr(std::min(sent, whole.size())));
      }
    }
    if (reply.type == '*' || reply.type == '>') {
      note_subscription_reply(std::string_view(link_buf_).substr(consumed, reply.length));
    }
    consumed += reply.length;
    if (link_outstanding_ > 0) {
      --link_outstanding_;
    }
    on_link_reply_counted(
        std::string_view(link_buf_).substr(consumed - reply.length, reply.length));
  }
  link_buf_.erase(0, consumed);
  link_emitted_ = link_emitted_ > consumed ? link_emitted_ - consumed : 0;
  if (hold && link_local_.empty() && link_swallow_ == 0) {
    // Nothing left to swap: the incomplete reply streams again.
    out_.append(std::string_view(link_buf_).substr(link_emitted_));
    link_emitted_ = link_buf_.size();
  }
  if (output_bytes() > ctx_.config->limits.client_output_buffer) {
    close();
    return;
  }
  write_or_wake();
  maybe_unpin();
  maybe_resume();
}

void Session::on_link_closed() {
  // Redis closed the dedicated connection (QUIT, CLIENT KILL, restart): the client is told the
  // same way, so client libraries reconnect and resubscribe.
  if (link_ && journalable_exec_ != 0 && exec_answerable(journalable_exec_)) {
    // Only a transaction of plain SETs was in flight: journaled, the session goes on unpinned.
    journal_unanswered_exec(false);
    if (!link_) {
      return;
    }
  }
  if (link_) {
    record_->set_upstream_id(0);
    flush_link_invalidations();
    link_.reset();
    ctx_.shared->pinned.fetch_sub(1, std::memory_order_relaxed);
  }
  begin_drain();
  // After a relayed QUIT reading has already stopped (begin_drain does nothing then): the
  // writer must still look again, flush the last replies and close.
  write_signal_.notify();
}

}  // namespace seawall::proxy
