// PinnedLink: the writes and transactions of pinned mode (see pinned_link.hpp). A relayed write
// drops the L1 copies of its keys when sent and again once Redis answered it, and a plain SET or
// MSET (or a transaction of plain SETs) leaves its values as the L1 copies once Redis said +OK.
// MULTI outside a pinned session is answered here and pins at the next command; while its
// upstream is unavailable, a transaction of plain SETs of journal-mode keys is queued here and
// journaled whole at EXEC, and an EXEC of such SETs Redis does not answer in time is journaled.
// While the link's upstream is unavailable, what must not reach Redis ahead of the journal is
// answered as the shared path would.
#include <algorithm>
#include <chrono>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/pinned_link.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/bugs.hpp"  // on_coroutine_done

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;
using command::CommandInfo;

// EXEC's replies when it ran none of the transaction: -EXECABORT (a queued command was refused)
// or a nil (a watched key changed), in RESP2 or RESP3.
bool exec_discarded(std::string_view reply) {
  return reply.starts_with("-EXECABORT") || replies::is_nil(reply);
}

}  // namespace

bool PinnedLink::answered_while_unavailable(command::Command cmd,
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
  if (host_.key_indexes().empty()) {
    return false;  // PING, SUBSCRIBE, CLIENT ...: nothing the journal orders
  }
  if (!pinned_slot_) {
    pinned_slot_ = std::make_unique<Slot>();
  }
  Slot& slot = *pinned_slot_;
  slot.reset();
  host_.describe(slot, info, args, link_upstream_);
  host_.note_activity(now);
  if (link_state_.db_nonzero() || info->has(command::kBlocking) ||
      (!slot.is_read && !slot.is_write)) {
    // The L1 and the journal are about database 0, and a blocking pop cannot be journaled.
    ctx_.shared->fallback.counters().count(policy::Source::Error);
    relay_local(slot.is_write ? state.write_rejected_error() : state.no_fallback_error());
    return true;
  }
  relay_local(host_.degraded_answer(slot));
  return true;
}

void PinnedLink::flush_link_invalidations() {
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

void PinnedLink::mark_pending(PendingInvalidation& pending, WritesInFlight::Owner owner) {
  pending.mark = ctx_.shared->writes_in_flight.mark_all(pending.keys, owner);
  pending.marked = true;
}

void PinnedLink::release_pending(PendingInvalidation& pending) {
  if (!pending.marked) {
    return;
  }
  pending.marked = false;
  ctx_.shared->writes_in_flight.release_all(pending.keys);
}

void PinnedLink::note_pinned_write(command::Command cmd, std::span<const std::string_view> args) {
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
      // shared write's belong to its sending (see CacheEffects::fill_written).
      PendingInvalidation pending;
      pending.after_reply = reply_index + 1;
      for (const std::string& key : multi_keys_) {
        cache.invalidate_key(key, &pending.withheld);
      }
      const bool journalable = transaction_journalable();
      pending.keys = std::move(multi_keys_);
      pending.exec = true;
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
    PendingInvalidation pending;
    pending.after_reply = reply_index + 1;
    pending.clear_all = true;
    link_invalidations_.push_back(std::move(pending));
    return;
  }
  PendingInvalidation pending;
  pending.after_reply = reply_index + 1;
  for (std::uint32_t k : host_.key_indexes()) {
    if (link_state_.in_multi()) {
      multi_keys_.emplace_back(args[k]);  // queued: it runs, and invalidates, at EXEC
    } else {
      cache.invalidate_key(args[k], may_restore_copies(*info) ? &pending.withheld : nullptr);
      pending.keys.emplace_back(args[k]);
    }
  }
  if (!pending.withheld.empty()) {
    pending.ticket = cache.begin_read();  // after the drop: see restore()
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

void PinnedLink::on_link_reply_counted(std::string_view reply) {
  ++link_replies_;
  while (!link_invalidations_.empty() && link_invalidations_.front().after_reply <= link_replies_) {
    PendingInvalidation& done = link_invalidations_.front();
    if (done.clear_all) {
      ctx_.shared->cache.clear();
    }
    if (done.after_reply == link_replies_ && !done.withheld.empty() &&
        (breaker::refused_unrun(reply) || (done.exec && exec_discarded(reply)))) {
      // Redis ran none of it: the copies its sending dropped still hold.
      ctx_.shared->cache.restore(done.ticket, done.withheld);
      release_pending(done);
      link_invalidations_.pop_front();
      continue;
    }
    done.withheld.clear();
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
          cache_effects_.store_written_value(done.ticket, fill.key, fill.value, now, done.mark,
                                             nullptr);
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

bool PinnedLink::transaction_journalable() const {
  // Only plain SETs, without WATCH: the journal can hold them and seawall can compute EXEC's
  // reply (every one +OK).
  if (link_state_.watching() || multi_fills_.empty() || multi_fills_.size() != multi_queued_) {
    return false;
  }
  return std::all_of(multi_fills_.begin(), multi_fills_.end(), [&](const QueuedFill& f) {
    return ctx_.snapshot->policies.match(f.key).writes_when_open == policy::WritesWhenOpen::Journal;
  });
}

void PinnedLink::arm_exec_deadline(std::uint64_t exec_reply) {
  if (link_upstream_ >= ctx_.config->upstreams.size()) {
    return;
  }
  asio::co_spawn(
      executor_,
      [this, keep_alive = host_.keep_alive(), exec_reply, generation = link_generation_,
       timeout = ctx_.config->upstreams[link_upstream_].request_timeout] {
        return exec_deadline(keep_alive, generation, exec_reply, timeout);
      },
      util::on_coroutine_done("proxy", "EXEC deadline"));
}

// The first parameter keeps the session, and so this object, alive until the deadline.
awaitable<void> PinnedLink::exec_deadline(std::shared_ptr<void> /*keep_alive*/,
                                          std::uint64_t generation, std::uint64_t exec_reply,
                                          std::chrono::milliseconds timeout) {
  asio::steady_timer timer(executor_);
  timer.expires_after(timeout);
  co_await timer.async_wait(use_nothrow);
  if (!host_.closed() && link_ && generation == link_generation_ && exec_answerable(exec_reply)) {
    journal_unanswered_exec(true);
  }
}

bool PinnedLink::exec_answerable(std::uint64_t exec_reply) const {
  // Still waiting for this EXEC of plain SETs, and nothing else outstanding or held on the link.
  return link_replies_ < exec_reply && link_replies_ + link_outstanding_ == exec_reply &&
         link_local_.empty() && link_buf_.empty() && !link_state_.in_multi() &&
         !link_state_.watching() && !link_state_.db_nonzero() && !link_state_.sticky() &&
         !link_invalidations_.empty() && link_invalidations_.back().after_reply == exec_reply &&
         !link_invalidations_.back().fills.empty() && link_outstanding_ >= link_swallow_ + 1;
}

void PinnedLink::journal_unanswered_exec(bool link_alive) {
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
    host_.output().append(resp::replies::kQueued);
  }
  append_exec_of_sets(host_.output(), tx.fills.size());
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
  host_.write_or_wake();
  host_.maybe_resume();
}

void PinnedLink::append_exec_of_sets(std::string& out, std::size_t sets) {
  resp::append_array_header(out, sets);
  for (std::size_t i = 0; i < sets; ++i) {
    out.append(resp::replies::kOk);
  }
}

bool PinnedLink::journal_sets(std::size_t upstream, const std::vector<QueuedFill>& sets) {
  // One MSET: the journal stores a write's entries together, so the transaction is all or none.
  thread_local std::vector<std::string_view> mset;
  mset.assign({command::sent::kMset});
  for (const QueuedFill& f : sets) {
    mset.push_back(f.key);
    mset.push_back(f.value);
  }
  cache::ReplyCache& cache = ctx_.shared->cache;
  WritesInFlight& writes = ctx_.shared->writes_in_flight;
  // Written in flight until the journal has them, as in DegradedReplies::answer.
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  for (const QueuedFill& f : sets) {
    keys.emplace_back(f.key);
  }
  writes.mark_all(keys, host_.write_owner());
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

void PinnedLink::begin_multi_tracking() {
  multi_queued_ = 0;
  multi_keys_.clear();
  multi_fills_.clear();
}

void PinnedLink::send_deferred_multi() {
  multi_deferred_ = false;
  begin_multi_tracking();  // relay() never saw this MULTI
  link_state_.multi_sent();
  ++link_outstanding_;
  ++link_swallow_;  // its +OK was answered when the client sent MULTI
  link_->send(command::sent::kMultiRequest);
  if (multi_aborted_) {
    relay_local({});  // a command refused before the pin: Redis must abort the EXEC too
    multi_aborted_ = false;
  }
}

bool PinnedLink::queued_locally(std::span<const std::string_view> args, command::Command cmd,
                                Reach reach) {
  // A transaction whose upstream cannot take it now fails open when seawall can run it later
  // itself: plain SETs of journal-mode keys, queued here and journaled whole at EXEC. Once one
  // is queued here, the rest must be too (a command that is not is a queueing error).
  const bool plain_set =
      cmd.rule().written == command::WrittenValue::KeyValue && args.size() == 3 &&
      ctx_.snapshot->policies.match(args[1]).writes_when_open == policy::WritesWhenOpen::Journal;
  const std::size_t up = plain_set ? ctx_.snapshot->router.route(args[1]) : 0;
  if (local_tx_.empty()) {
    if (!plain_set || multi_aborted_) {
      return false;
    }
    if (reach == Reach::AsBreakerSays &&
        ctx_.shared->upstreams[up]->available(std::chrono::steady_clock::now())) {
      return false;  // pin and run it on Redis
    }
    local_tx_upstream_ = up;
  } else if (!plain_set || up != local_tx_upstream_) {
    multi_aborted_ = true;
    host_.reply_now(
        !plain_set
            ? std::string_view(ctx_.shared->upstreams[local_tx_upstream_]->no_fallback_error())
            : replies::kCrossUpstream);
    return true;
  }
  local_tx_.push_back(QueuedFill{local_tx_.size(), std::string(args[1]), std::string(args[2])});
  host_.reply_now(replies::kQueued);
  return true;
}

bool PinnedLink::deferred_multi_answered(std::span<const std::string_view> args,
                                         command::Command cmd) {
  const CommandInfo* info = cmd.info;
  const command::State conn_state = cmd.rule().state;
  if (!multi_deferred_) {
    if (conn_state != command::State::Multi || !command::arity_ok(*info, args.size())) {
      return false;
    }
    // Which upstream the transaction runs on is known only from its first key: pin then.
    multi_deferred_ = true;
    multi_aborted_ = false;
    multi_pin_error_.clear();
    local_tx_.clear();
    host_.reply_now(replies::kOk);
    return true;
  }
  if (conn_state == command::State::EndsMulti) {
    const bool exec = cmd.rule().runs_queued;
    if (command::arity_ok(*info, args.size())) {
      multi_deferred_ = false;
      if (exec && !multi_aborted_ && !local_tx_.empty()) {
        // Queued here while the upstream was unavailable: journaled whole, or not at all.
        if (journal_sets(local_tx_upstream_, local_tx_)) {
          host_.scratch().clear();
          append_exec_of_sets(host_.scratch(), local_tx_.size());
          host_.reply_now(host_.scratch());
        } else {
          host_.reply_now(replies::kExecAbort);
        }
      } else {
        host_.reply_now(!exec
                            ? replies::kOk
                            : (multi_aborted_ ? replies::kExecAbort : std::string_view("*0\r\n")));
      }
      multi_aborted_ = false;
      multi_pin_error_.clear();
      local_tx_.clear();
      return true;
    }
  }
  if (queued_locally(args, cmd)) {
    return true;
  }
  if (!multi_pin_error_.empty()) {
    host_.reply_now(multi_pin_error_);  // the error its pin failed with, as for the first
    return true;
  }
  return false;
}

}  // namespace seawall::proxy
