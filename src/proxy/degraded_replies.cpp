#include "seawall/proxy/degraded_replies.hpp"

#include <optional>

#include "seawall/command/command_rules.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

using upstream::ReplyStatus;
using Merge = command::Merge;

util::LogRateLimiter& degraded_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 5);
  return limiter;
}

// Reads of keys written during the outage, for an MGET answered key by key.
class JournalOverlay final : public policy::KeyOverlay {
 public:
  JournalOverlay(const upstream::Journal& journal, std::chrono::system_clock::time_point wall)
      : journal_(journal), wall_(wall) {}
  Result get(std::string_view key, std::string& out) override {
    switch (journal_.read_get(key, wall_, out)) {
      case upstream::Journal::Overlay::Answered:
        return Result::Answered;
      case upstream::Journal::Overlay::Unknown:
        return Result::Unknown;
      case upstream::Journal::Overlay::NotJournaled:
        break;
    }
    return Result::NotCovered;
  }

 private:
  const upstream::Journal& journal_;
  std::chrono::system_clock::time_point wall_;
};

void log_degraded(const std::string& upstream, std::string_view what) {
  // Degraded answers can come at full request rate: most calls must cost a counter decrement,
  // not a clock read and shared atomics. Each thread asks the shared limiter every 1024th time.
  thread_local std::uint32_t countdown = 0;
  if (countdown-- != 0) {
    return;
  }
  countdown = 1023;
  std::uint64_t suppressed = 0;
  if (degraded_log_limiter().allow(suppressed)) {
    util::logger("fallback")
        ->warn("upstream={} degraded answer={} (suppressed={})", upstream, what, suppressed);
  }
}

}  // namespace

void DegradedReplies::answer_without_upstream(RequestSlot& slot, std::uint64_t seq) {
  if (parked_behind_write(slot, seq)) {
    return;
  }
  if (slot.is_read) {
    complete_read(slot, seq);
    return;
  }
  const std::string_view reply = answer(slot);
  slot.release_writes(ctx_.shared->writes_in_flight);  // never reached Redis: journaled or refused
  session_.complete_request(seq, reply);
}

void DegradedReplies::answer_failed(RequestSlot& slot, std::uint64_t seq, ReplyStatus status,
                                    std::string_view bytes) {
  upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
  if (slot.is_read) {
    if (!parked_behind_write(slot, seq)) {
      complete_read(slot, seq);
    }
    return;
  }
  const bool journaled = journaled_after_failure(slot);
  slot.release_writes(ctx_.shared->writes_in_flight);  // its outcome is known: journaled, or failed
  if (journaled) {
    session_.complete_request(seq, session_.scratch_buffer());
    return;
  }
  ctx_.shared->fallback.counters().count(policy::Source::Error);
  if (status == ReplyStatus::FailedReply) {
    // Redis refused it (-LOADING, -BUSY ...): it did not run, so its keys' copies still hold.
    cache_.restore_withheld(slot, bytes);
    session_.complete_request(seq, bytes);
  } else if (slot.is_write) {
    log_degraded(state.name(), "write_outcome_unknown");
    session_.complete_request(seq, state.write_unknown_error());
  } else {
    session_.complete_request(seq, state.no_fallback_error());
  }
}

bool DegradedReplies::journaled_after_failure(RequestSlot& slot) {
  // A write Redis refused (-LOADING and the like) did not run; one that timed out or lost its
  // connection may have run, or may still run late. Journaled, it runs (again: only idempotent
  // writes are journaled) once Redis is back, before every later write of its keys: nothing
  // reaches Redis while a journal waits, and the replay waits until every timed-out request has
  // had its late reply or lost its connection (UpstreamState::in_doubt), so the original cannot
  // run after a newer journaled value. Hence seawall can acknowledge it as if the breaker had
  // been open when it came, and reads of its keys answer its value.
  if (!slot.is_write || slot.merge != Merge::None || slot.info == nullptr ||
      flushes_everything(*slot.info) ||
      slot.policy->writes_when_open != policy::WritesWhenOpen::Journal) {
    return false;
  }
  const std::optional<std::string> ack = policy::acknowledgement(*slot.info, slot.args);
  if (!ack) {
    return false;
  }
  upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
  cache_.invalidate_keys(slot);
  slot.ticket = ctx_.shared->cache.begin_read();
  if (state.journal().append(slot.args, upstream::Journal::Mode::Journal,
                             std::chrono::system_clock::now()) != upstream::Journal::Append::Ok) {
    return false;
  }
  cache_.keep_journaled_value(slot, session_.last_activity());
  ctx_.shared->miss_leases.release(slot.key_views(), session_.last_activity());
  ctx_.shared->fallback.counters().writes_journaled.fetch_add(1, std::memory_order_relaxed);
  log_degraded(state.name(), "write_journaled_after_failure");
  session_.scratch_buffer().assign(*ack);
  return true;
}

void DegradedReplies::complete_read(RequestSlot& slot, std::uint64_t seq) {
  std::string& scratch = session_.scratch_buffer();
  scratch.clear();
  const auto source = read(slot, scratch);
  if ((source == policy::Source::Error || source == policy::Source::Miss) &&
      parked_behind_write(slot, seq)) {
    // A write of its keys began on another thread while the chain was asked (its copy gone, its
    // journal entry not in yet): this read waits for it, as if it had been in flight before.
    ctx_.shared->fallback.counters().uncount(source);
    return;
  }
  if (source == policy::Source::Miss && waits_for_lease(slot, seq)) {
    ctx_.shared->fallback.counters().uncount(source);
    return;
  }
  log_degraded(ctx_.shared->upstreams[slot.upstream]->name(), policy::to_string(source));
  session_.complete_request(seq, scratch);
}

bool DegradedReplies::parked_behind_write(RequestSlot& slot, std::uint64_t seq) {
  if (!slot.is_read || slot.parked || ctx_.parked == nullptr ||
      !slot.write_in_flight(ctx_.shared->writes_in_flight)) {
    return false;
  }
  // The write went out at most request_timeout ago: by then it has its outcome.
  const auto& upstreams = ctx_.config->upstreams;
  const auto wait = slot.upstream < upstreams.size() ? upstreams[slot.upstream].request_timeout
                                                     : upstream::Millis{100};
  slot.parked = true;
  // Twice that and more: the write's deadline fires on its own thread, which a loaded machine
  // may run late; the wait ends as soon as the outcome is in anyway.
  session_.park_read(seq, session_.last_activity() + 2 * wait + std::chrono::milliseconds(50));
  return true;
}

bool DegradedReplies::waits_for_lease(RequestSlot& slot, std::uint64_t seq) {
  // Once: a reader that waited takes whatever the chain answers when the lease ends.
  if (slot.lease_wait || slot.policy->miss_lease.count() == 0 || ctx_.parked == nullptr ||
      slot.merge != Merge::None || slot.keys.empty()) {
    return false;
  }
  const policy::MissLeases::Result lease = ctx_.shared->miss_leases.take(
      slot.key_views().front(), session_.last_activity(), slot.policy->miss_lease);
  if (lease.take != policy::MissLeases::Take::Held) {
    return false;  // this reader's miss (the lease is its), or no room for a lease
  }
  slot.lease_wait = true;
  session_.park_read(seq, lease.until);
  return true;
}

policy::Source DegradedReplies::read(const RequestSlot& slot, std::string& out) {
  SharedState& shared = *ctx_.shared;
  upstream::UpstreamState& state = *shared.upstreams[slot.upstream];
  policy::Fallback& fallback = shared.fallback;
  const upstream::Journal& journal = state.journal();
  // Read your writes: a key with a journaled write is answered from the journal, never from an
  // older copy; when the journal cannot compute the answer, an error. An MGET key by key.
  std::optional<JournalOverlay> overlay;
  if (!journal.empty()) {
    const auto wall = std::chrono::system_clock::now();
    if (command::rules(*slot.info).merge == Merge::Mget) {
      overlay.emplace(journal, wall);
    } else {
      thread_local std::string reply;
      reply.clear();
      switch (journal.read(slot.args, wall, reply)) {
        case upstream::Journal::Overlay::Answered:
          if (session_.reply_protocol() != resp::Protocol::Resp3 ||
              !resp::append_as_resp3(out, reply)) {
            out.append(reply);
          }
          fallback.counters().count(policy::Source::Journal);
          return policy::Source::Journal;
        case upstream::Journal::Overlay::Unknown:
          if (slot.policy->writes_when_open == policy::WritesWhenOpen::Invalidate) {
            break;  // its L1 copies are gone: the chain answers as after any invalidation
          }
          out.append(state.no_fallback_error());
          fallback.counters().count(policy::Source::Error);
          return policy::Source::Error;
        case upstream::Journal::Overlay::NotJournaled:
          break;
      }
    }
  }
  policy::CopyTrust trust;
  if (ctx_.near != nullptr) {
    if (const auto link = ctx_.near->link(slot.upstream)) {
      trust = policy::CopyTrust{true, link->live(), link->epoch()};
    }
  }
  return fallback.answer_read(*slot.info, slot.args, slot.cache_key, *slot.policy,
                              ctx_.snapshot->policies, session_.last_activity(),
                              state.no_fallback_error(), out, session_.reply_protocol(),
                              overlay ? &*overlay : nullptr, trust);
}

std::string_view DegradedReplies::answer(RequestSlot& slot) {
  SharedState& shared = *ctx_.shared;
  upstream::UpstreamState& state = *shared.upstreams[slot.upstream];
  auto& counters = shared.fallback.counters();
  std::string& scratch = session_.scratch_buffer();
  scratch.clear();
  if (slot.is_read) {
    const auto source = read(slot, scratch);
    log_degraded(state.name(), policy::to_string(source));
    return scratch;
  }
  if (!slot.is_write || slot.merge != Merge::None || slot.info == nullptr ||
      flushes_everything(*slot.info)) {
    counters.count(policy::Source::Error);
    return slot.is_write ? state.write_rejected_error() : state.no_fallback_error();
  }
  const policy::WritesWhenOpen mode = slot.policy->writes_when_open;
  if (mode == policy::WritesWhenOpen::Reject) {
    counters.writes_rejected.fetch_add(1, std::memory_order_relaxed);
    log_degraded(state.name(), "write_rejected");
    return state.write_rejected_error();
  }
  const std::optional<std::string> ack = policy::acknowledgement(*slot.info, slot.args);
  if (!ack) {
    counters.writes_rejected.fetch_add(1, std::memory_order_relaxed);
    return state.cannot_acknowledge_error();
  }
  // Journal the write itself, or (invalidate) a DEL of its keys, so that Redis cannot serve a
  // value from before the outage once it is back. Its old copies go first, and the ticket is
  // taken before the append, so of two writes racing to the journal the later-journaled one
  // leaves the copy (see CacheEffects::keep_journaled_value). Meanwhile its keys count as
  // written in flight: a read on another thread that finds neither the copy nor the journal
  // entry waits for it (complete_read).
  struct Unmark {
    WritesInFlight& writes;
    RequestSlot& slot;
    bool active;
    ~Unmark() {
      if (active) {
        slot.release_writes(writes);
      }
    }
  } unmark{shared.writes_in_flight, slot, !slot.writes_marked};
  if (unmark.active) {
    slot.mark_writes(shared.writes_in_flight, WritesInFlight::owner_of(&session_));
  }
  cache_.invalidate_keys(slot);
  slot.ticket = shared.cache.begin_read();
  const auto appended = state.journal().append(slot.args,
                                               mode == policy::WritesWhenOpen::Journal
                                                   ? upstream::Journal::Mode::Journal
                                                   : upstream::Journal::Mode::Invalidate,
                                               std::chrono::system_clock::now());
  if (appended == upstream::Journal::Append::Unsupported) {
    counters.writes_rejected.fetch_add(1, std::memory_order_relaxed);
    return state.cannot_acknowledge_error();
  }
  if (appended != upstream::Journal::Append::Ok) {
    counters.writes_rejected.fetch_add(1, std::memory_order_relaxed);
    log_degraded(state.name(), "journal_full");
    return state.journal_full_error();
  }
  if (mode == policy::WritesWhenOpen::Journal) {
    cache_.keep_journaled_value(slot, session_.last_activity());
  }
  shared.miss_leases.release(slot.key_views(), session_.last_activity());
  (mode == policy::WritesWhenOpen::Journal ? counters.writes_journaled
                                           : counters.writes_invalidated)
      .fetch_add(1, std::memory_order_relaxed);
  log_degraded(state.name(),
               mode == policy::WritesWhenOpen::Journal ? "write_journaled" : "write_invalidated");
  scratch.assign(*ack);
  return scratch;
}

}  // namespace seawall::proxy
