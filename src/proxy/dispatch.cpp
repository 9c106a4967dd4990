// Session: forwarding to upstreams, the replies that come back, and the fallback chain when
// they do not. See session.hpp for the ordering and lifetime rules.
#include <algorithm>
#include <array>
#include <optional>

#include "seawall/command/command_rules.hpp"
#include "seawall/fault/fault_injector.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/proxy/write_order.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

using command::CommandInfo;
using upstream::ReplyStatus;

constexpr unsigned kPartBits = 8;
constexpr std::uint64_t kPartMask = (1u << kPartBits) - 1;

std::uint64_t make_token(std::uint64_t seq, std::uint32_t part) {
  return (seq << kPartBits) | part;
}

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

// The fault configured for this request, if one applies, counted here: the caller applies it
// (a delayed command whose connection turns out to be down fails unsent instead, as it would
// have without the fault).
const fault::Fault* pick_fault(WorkerContext& ctx, const CommandInfo* info,
                               std::span<const std::string_view> args, std::size_t up) {
  const fault::FaultInjector& faults = ctx.snapshot->faults;
  if (faults.empty()) {
    return nullptr;
  }
  const fault::Fault* fault = faults.pick(info, args, up, ctx.fault_random);
  if (fault != nullptr) {
    ctx.shared->upstreams[up]->count_injected_fault(fault->type);
  }
  return fault;
}

std::chrono::milliseconds delay_of(const fault::Fault* fault) {
  return fault != nullptr && fault->type == fault::FaultType::Delay ? fault->delay
                                                                    : std::chrono::milliseconds{0};
}

// An injected error takes the place of Redis's reply, where a connection would deliver one: the
// breaker records a failure with the permit it gave, and the target gets a FailedReply, as for
// -LOADING, so everything after it (fallback chain, journal, metrics) is what a real failure
// gets. The command is not sent.
void inject_error(upstream::ReplyTarget& target, const fault::Fault& fault, std::uint64_t token,
                  const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                  std::chrono::steady_clock::time_point now) {
  if (permit.allowed()) {
    issuer.record(permit, breaker::Outcome::Failure, {}, now);
  }
  target.on_reply(token, fault.error_reply, ReplyStatus::FailedReply, now);
  target.on_batch_end();
}

}  // namespace

bool is_write_command(const CommandInfo& info) {
  // EVAL/FCALL carry no read/write flag in Redis 7.0: assume they may write.
  return info.has(command::kWrite) || (info.has(command::kScripting) &&
                                       !info.has(command::kReadonly) && !info.has(command::kNoKey));
}

bool flushes_everything(const CommandInfo& info) { return command::rules(info).flushes_all; }

void Session::invalidate_keys(const Slot& slot) {
  if (slot.info != nullptr && flushes_everything(*slot.info)) {
    ctx_.shared->cache.clear();
    return;
  }
  for (std::uint32_t k : slot.keys) {
    ctx_.shared->cache.invalidate_key(slot.args[k]);
  }
}

void Session::describe(Slot& slot, const CommandInfo* info, std::span<const std::string_view> args,
                       std::size_t up) {
  slot.upstream = static_cast<std::uint32_t>(up);
  slot.info = info;
  if (info != nullptr) {
    slot.is_write = is_write_command(*info);
    slot.is_read = !slot.is_write && info->has(command::kReadonly) && !key_indexes_.empty();
  }
  if (slot.is_read || slot.is_write) {
    slot.copy_args(args);
    slot.keys.assign(key_indexes_.begin(), key_indexes_.end());
    slot.policy = &ctx_.snapshot->policies.match(args[key_indexes_.empty() ? 0 : key_indexes_[0]]);
  } else if (info != nullptr && flushes_everything(*info)) {
    slot.is_write = true;
    slot.args.clear();
    slot.keys.clear();
    slot.policy = &ctx_.snapshot->policies.fallback();
  }
  if (slot.is_read) {
    // The normalised command names the L1 entry; without an l1 policy it is never looked at.
    slot.cache_key.clear();
    if (slot.policy->l1.enabled) {
      cache::make_cache_key(slot.args, slot.cache_key);
      if (protocol_ == resp::Protocol::Resp3) {
        policy::make_resp3_cache_key(slot.cache_key);
      }
    }
    slot.fill = slot.policy->l1.enabled && !info->has(command::kNonDeterministicOutput);
  }
}

void Session::forward(const resp::ParsedRequest& request, std::string_view raw,
                      const CommandInfo* info) {
  SharedState& shared = *ctx_.shared;
  const auto& args = request.args;
  key_indexes_.clear();
  if (info != nullptr) {
    command::key_indexes(*info, args, key_indexes_);
  }
  std::size_t up = ctx_.snapshot->router.default_index();
  if (!key_indexes_.empty()) {
    up = ctx_.snapshot->router.route(args[key_indexes_[0]]);
    if (!ctx_.snapshot->router.single_upstream()) {
      for (std::uint32_t k : key_indexes_) {
        if (ctx_.snapshot->router.route(args[k]) != up) {
          if (!forward_split(*info, args)) {
            reply_now(resp::replies::kCrossUpstream);
          }
          return;
        }
      }
    }
  }

  std::string_view bytes = raw;
  if (request.kind == resp::RequestKind::Inline) {
    scratch_.clear();
    resp::append_command(scratch_, args);
    bytes = scratch_;
  }

  Slot& slot = push_slot();
  const std::uint64_t seq = replies_.back_seq();
  describe(slot, info, args, up);
  upstream::UpstreamState& state = *shared.upstreams[up];
  breaker::CircuitBreaker& breaker = state.breaker();  // one breaker per request, across reloads
  const auto now = last_activity_;
  breaker::Permit permit;
  bool send = state.ready();
  if (send) {
    permit = breaker.try_acquire(now);
    send = permit.allowed();
  }
  if (!send) {
    answer_without_upstream(slot, seq);
    return;
  }
  upstream::Connection& connection = connection_for(up);
  if (slot.is_write) {
    invalidate_keys(slot);
    mark_writes(slot, WritesInFlight::owner_of(&connection));
    // A plain SET or MSET leaves its value in the L1 once Redis acknowledged it, so the key can
    // still be read during an outage that follows (the ticket catches any write racing it).
    slot.fill = writes_value(slot);
  }
  if (slot.fill) {
    slot.ticket = shared.cache.begin_read();
  }
  ++in_upstream_;
  const fault::Fault* fault = pick_fault(ctx_, info, args, up);
  if (fault != nullptr && fault->type == fault::FaultType::Error) {
    inject_error(*this, *fault, make_token(seq, 0), permit, breaker, now);
    return;
  }
  connection.submit(bytes, this, make_token(seq, 0), now, permit, &breaker, delay_of(fault));
}

upstream::Connection& Session::connection_for(std::size_t up) {
  if (moved_to_ != nullptr) {
    if ((in_upstream_ > 0 || move_fresh_) && up == moved_up_) {
      move_fresh_ = false;
      // A reload may have replaced the pool since: then the move is over.
      for (const auto& c : ctx_.pools[up]->group(upstream_protocol())) {
        if (c.get() == moved_to_) {
          return *moved_to_;
        }
      }
    }
    if (in_upstream_ == 0) {
      moved_to_ = nullptr;
    }
  }
  return ctx_.pools[up]->pick(id_, upstream_protocol());
}

std::optional<std::size_t> Session::write_must_wait(const CommandInfo* info,
                                                    std::span<const std::string_view> args) {
  // A blocking write (BLPOP) may wait for ever: nobody waits for it (see note_pinned_write), and
  // the L1 keeps database 0 only.
  if (info == nullptr || info->has(command::kBlocking) || link_state_.db_nonzero()) {
    return std::nullopt;
  }
  // Queued commands run, and are ordered, at EXEC.
  const bool runs_queued = link_ && link_state_.in_multi() && command::rules(*info).runs_queued;
  if (!runs_queued &&
      (link_state_.in_multi() || !is_write_command(*info) || flushes_everything(*info))) {
    return std::nullopt;
  }
  thread_local std::vector<std::uint32_t> indexes;
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  if (runs_queued) {
    keys.assign(multi_keys_.begin(), multi_keys_.end());
  } else {
    indexes.clear();
    command::key_indexes(*info, args, indexes);
    for (std::uint32_t k : indexes) {
      keys.push_back(args[k]);
    }
  }
  if (keys.empty()) {
    return std::nullopt;
  }
  const router::Router& router = ctx_.snapshot->router;
  const std::size_t up = link_ ? link_upstream_ : router.route(keys[0]);
  if (!link_ && !router.single_upstream()) {
    for (std::string_view key : keys) {
      if (router.route(key) != up) {
        return std::nullopt;  // split across upstreams: each part's order is its own
      }
    }
  }
  const WritesInFlight::Owner me =
      WritesInFlight::owner_of(link_ ? static_cast<const void*>(link_.get())
                                     : static_cast<const void*>(&connection_for(up)));
  const WriteOrderPlan plan =
      plan_write(ctx_.shared->writes_in_flight, keys, me, !link_ && in_upstream_ == 0);
  if (plan.order == WriteOrder::Move) {
    // Only a connection of this worker's pool for the client's protocol can be followed.
    for (const auto& c : ctx_.pools[up]->group(upstream_protocol())) {
      if (WritesInFlight::owner_of(c.get()) == plan.owner) {
        ctx_.shared->writes_in_flight.moved.fetch_add(1, std::memory_order_relaxed);
        moved_to_ = c.get();
        moved_up_ = static_cast<std::uint32_t>(up);
        move_fresh_ = true;
        return std::nullopt;
      }
    }
  }
  return plan.order == WriteOrder::Send ? std::nullopt : std::optional<std::size_t>(up);
}

awaitable<void> Session::wait_write_order(const CommandInfo* info, std::size_t up) {
  // The other write's outcome comes within its request deadline; past that (a pinned write has
  // none), this one goes anyway, and the two are as unordered as before.
  const auto& upstreams = ctx_.config->upstreams;
  const auto wait = up < upstreams.size() ? upstreams[up].request_timeout : upstream::Millis{100};
  const auto deadline = std::chrono::steady_clock::now() + wait + std::chrono::milliseconds(50);
  asio::steady_timer timer(socket_.get_executor());
  ctx_.shared->writes_in_flight.waited.fetch_add(1, std::memory_order_relaxed);
  do {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(use_nothrow);
  } while (!closed_ && std::chrono::steady_clock::now() < deadline &&
           write_must_wait(info, request_.args).has_value());
}

bool Session::forward_split(const CommandInfo& info, std::span<const std::string_view> args) {
  const command::CommandRules& rules = command::rules(info);
  const Merge merge = rules.merge;
  const std::size_t step = rules.merge_step;
  if (merge == Merge::None) {
    return false;
  }
  SharedState& shared = *ctx_.shared;
  Slot& slot = push_slot();
  const std::uint64_t seq = replies_.back_seq();
  slot.info = &info;
  slot.merge = merge;
  slot.is_read = merge == Merge::Mget;
  slot.is_write = !slot.is_read;
  slot.copy_args(args);
  slot.keys.assign(key_indexes_.begin(), key_indexes_.end());
  slot.policy = &ctx_.snapshot->policies.match(args[1]);

  // Group keys by upstream, in order of first appearance: part p goes to part_upstream[p].
  std::array<std::size_t, kMaxParts> part_upstream{};
  const std::optional<std::size_t> grouped = group_by_upstream(
      key_indexes_.size(),
      [&](std::size_t i) { return ctx_.snapshot->router.route(args[key_indexes_[i]]); },
      slot.key_part, part_upstream);
  if (!grouped) {
    complete(seq, resp::replies::kCrossUpstream);  // more upstreams than a merge can hold
    return true;
  }
  const std::size_t parts = *grouped;
  const auto now = last_activity_;
  // Every part's upstream must be reachable; otherwise the whole command takes the fallback.
  std::array<breaker::Permit, kMaxParts> permits{};
  std::array<breaker::CircuitBreaker*, kMaxParts> issuers{};
  bool send = true;
  for (std::size_t p = 0; p < parts && send; ++p) {
    upstream::UpstreamState& state = *shared.upstreams[part_upstream[p]];
    issuers[p] = &state.breaker();
    if (state.ready()) {
      permits[p] = issuers[p]->try_acquire(now);
    }
    send = permits[p].allowed();
  }
  if (!send) {
    for (std::size_t p = 0; p < parts; ++p) {
      if (permits[p].allowed()) {
        issuers[p]->record(permits[p], breaker::Outcome::Ignored, {}, now);
      }
    }
    slot.upstream = static_cast<std::uint32_t>(part_upstream[0]);
    answer_without_upstream(slot, seq);
    return true;
  }
  if (slot.is_write) {
    invalidate_keys(slot);
  }
  slot.parts.resize(parts);
  slot.parts_pending = static_cast<std::uint32_t>(parts);
  std::vector<std::string_view> sub;
  for (std::size_t p = 0; p < parts; ++p) {
    part_request(slot.args, slot.keys, slot.key_part, step, p, sub);
    ++in_upstream_;
    const std::uint64_t token = make_token(seq, static_cast<std::uint32_t>(p));
    const fault::Fault* fault = pick_fault(ctx_, &info, args, part_upstream[p]);
    if (fault != nullptr && fault->type == fault::FaultType::Error) {
      inject_error(*this, *fault, token, permits[p], *issuers[p], now);
      continue;
    }
    scratch_.clear();
    resp::append_command(scratch_, sub);
    connection_for(part_upstream[p])
        .submit(scratch_, this, token, now, permits[p], issuers[p], delay_of(fault));
  }
  return true;
}

void Session::on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                       std::chrono::steady_clock::time_point now) {
  --in_upstream_;
  // Ok and FailedReply come from a read of Redis's output; on_batch_end follows after its last
  // reply, so the writer need not be woken per reply (see wake_writer).
  defer_wake_ = status == ReplyStatus::Ok || status == ReplyStatus::FailedReply;
  const std::uint64_t seq = token >> kPartBits;
  Slot& slot = slot_at(seq);
  if (closed_) {
    release_writes(slot);
    if (in_upstream_ == 0) {
      write_signal_.notify();  // the writer keeps this session alive until now
    }
    return;
  }
  if (status == ReplyStatus::Ok) {
    // Peak-hold estimate of reply sizes, for the backpressure estimate (see should_pause).
    avg_reply_bytes_ = std::max(bytes.size(), avg_reply_bytes_ - avg_reply_bytes_ / 8);
  }
  if (slot.merge != Merge::None) {
    on_part_reply(slot, seq, static_cast<std::uint32_t>(token & kPartMask), status, bytes);
    return;
  }
  if (status == ReplyStatus::NotSent) {
    // It never reached Redis: answer exactly as if the breaker had been open.
    answer_without_upstream(slot, seq);
    return;
  }
  if (status != ReplyStatus::Ok) {
    answer_failed(slot, seq, status, bytes);
    return;
  }
  if (slot.is_write) {
    // Again at the reply: a read that raced this write must not leave an older value cached.
    if (slot.fill && bytes == resp::replies::kOk) {
      fill_written(slot, now);
    } else {
      invalidate_keys(slot);
    }
    release_writes(slot);
  } else if (slot.fill && bytes[0] != '-') {
    fill_cache(slot, bytes, now);
  }
  ctx_.shared->fallback.counters().count(policy::Source::Upstream);
  complete(seq, bytes);
}

void Session::fill_cache(Slot& slot, std::string_view bytes,
                         std::chrono::steady_clock::time_point now) {
  cache::ReplyCache& cache = ctx_.shared->cache;
  if (command::rules(*slot.info).merge == Merge::Mget) {
    // Stored per key, as the GET of that key, so GET and MGET answer from the same copies.
    thread_local std::vector<std::string_view> elements;
    if (!split_reply_array(bytes, elements) || elements.size() + 1 != slot.args.size()) {
      return;
    }
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const std::string_view key = slot.args[i + 1];
      const policy::Policy& p = ctx_.snapshot->policies.match(key);
      if (!p.l1.enabled) {
        continue;
      }
      const std::array<std::string_view, 2> get = command::get_request(key);
      cache::make_cache_key(get, scratch_);
      if (protocol_ == resp::Protocol::Resp3) {
        policy::make_resp3_cache_key(scratch_);
      }
      const std::array<std::string_view, 1> keys{key};
      cache.put(slot.ticket, scratch_, keys, elements[i], p.l1.ttl, p.l1.max_stale, now,
                p.l1.admission);
    }
    return;
  }
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  for (std::uint32_t k : slot.keys) {
    keys.push_back(slot.args[k]);
  }
  cache.put(slot.ticket, slot.cache_key, keys, bytes, slot.policy->l1.ttl,
            slot.policy->l1.max_stale, now, slot.policy->l1.admission);
}

bool writes_value(const command::CommandInfo* info, std::span<const std::string_view> args,
                  const policy::Policy& policy) {
  if (info == nullptr) {
    return false;
  }
  const command::CommandRules& rules = command::rules(*info);
  // A single key's value is only worth keeping if its policy keeps copies; MSET's values are
  // checked key by key when stored.
  return command::writes_values(rules, args) &&
         (rules.written != command::WrittenValue::KeyValue || policy.l1.enabled);
}

bool Session::writes_value(const Slot& slot) const {
  return slot.policy != nullptr && proxy::writes_value(slot.info, slot.args, *slot.policy);
}

void Session::keep_journaled_value(Slot& slot) {
  // What the journal answers now, the L1 keeps for after the replay: while the breaker is still
  // half-open, reads of the key need a copy, and it is the value Redis will hold by then.
  if (writes_value(slot)) {
    fill_written(slot, last_activity_, &ctx_.shared->upstreams[slot.upstream]->journal());
  }
}

void Session::fill_written(Slot& slot, std::chrono::steady_clock::time_point now,
                           const upstream::Journal* journaled) {
  for (std::size_t i = 1; i + 1 < slot.args.size(); i += 2) {
    store_written_value(slot.ticket, slot.args[i], slot.args[i + 1], now, slot.mark, journaled);
  }
}

void Session::store_written_value(cache::ReadTicket ticket, std::string_view key,
                                  std::string_view value, std::chrono::steady_clock::time_point now,
                                  WriteMark mark, const upstream::Journal* journaled) {
  cache::ReplyCache& cache = ctx_.shared->cache;
  const WritesInFlight& writes = ctx_.shared->writes_in_flight;
  const policy::Policy& p = ctx_.snapshot->policies.match(key);
  const std::array<std::string_view, 1> keys{key};
  if (!p.l1.enabled) {
    cache.invalidate_key(key);
    return;
  }
  thread_local std::string cache_key;
  thread_local std::string reply;
  const std::array<std::string_view, 2> get = command::get_request(key);
  cache::make_cache_key(get, cache_key);
  reply.clear();
  resp::append_bulk(reply, value);
  // Written values are never refused by admission: an outage must read what was written
  // through seawall.
  const auto store = [&](cache::ReadTicket t) {
    return cache.put(t, cache_key, keys, reply, p.l1.ttl, p.l1.max_stale, now,
                     cache::Admission::Always);
  };
  if (mark.ordered && writes.last_sent(key, mark.id)) {
    // Redis ran every earlier write of the key before this one (they went on the same
    // connection, or had their outcome before it was sent) and no later one was sent: its value
    // is what Redis holds now, whatever the ticket says (the earlier writes' acknowledgements
    // invalidated it). The invalidation ends the reads still in flight, which may have read an
    // older value; a write sent after the new ticket makes the put fail.
    cache.invalidate_key(key);
    const cache::ReadTicket fresh = cache.begin_read();
    if (writes.last_sent(key, mark.id)) {
      store(fresh);
      return;
    }
  }
  // Stored only if no other write to the key was sent since this one: then this value is what
  // Redis holds. The invalidation after it drops the probe and ends every read of the key still
  // in flight (they may have read an older value); the copy is stored again after.
  cache::PutResult stored = store(ticket);
  cache.invalidate_key(key);
  if (stored == cache::PutResult::Stored) {
    stored = store(cache.begin_read());
  }
  if (stored == cache::PutResult::Raced && journaled != nullptr) {
    // A journaled write's order is the journal's: if its value is still the key's last one
    // there, it is what Redis will hold after the replay (and what reads answer until then).
    // The ticket comes first: a write journaled after the check invalidates the key after its
    // append, so this put then fails rather than store an older value.
    const cache::ReadTicket fresh = cache.begin_read();
    thread_local std::string journaled_reply;
    journaled_reply.clear();
    if (journaled->read_get(key, std::chrono::system_clock::now(), journaled_reply) ==
            upstream::Journal::Overlay::Answered &&
        journaled_reply == reply) {
      stored = store(fresh);
    }
  }
  if (stored == cache::PutResult::Raced) {
    // Another write of the key was in flight too (or of a key sharing its invalidation stripe):
    // only Redis knows which ran last. Ask it.
    ctx_.repair->request(ctx_.snapshot->router.route(key), key, p.l1.ttl, p.l1.max_stale);
  }
}

void Session::answer_failed(Slot& slot, std::uint64_t seq, ReplyStatus status,
                            std::string_view bytes) {
  upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
  if (slot.is_read) {
    if (!parked_behind_write(slot, seq)) {
      complete_degraded_read(slot, seq);
    }
    return;
  }
  const bool journaled = journaled_after_failure(slot);
  release_writes(slot);  // its outcome is known now: journaled, or failed
  if (journaled) {
    complete(seq, scratch_);
    return;
  }
  ctx_.shared->fallback.counters().count(policy::Source::Error);
  if (status == ReplyStatus::FailedReply) {
    complete(seq, bytes);  // Redis refused it (-LOADING, -BUSY ...): it did not run
  } else if (slot.is_write) {
    log_degraded(state.name(), "write_outcome_unknown");
    complete(seq, state.write_unknown_error());
  } else {
    complete(seq, state.no_fallback_error());
  }
}

bool Session::journaled_after_failure(Slot& slot) {
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
  invalidate_keys(slot);
  slot.ticket = ctx_.shared->cache.begin_read();
  if (state.journal().append(slot.args, upstream::Journal::Mode::Journal,
                             std::chrono::system_clock::now()) != upstream::Journal::Append::Ok) {
    return false;
  }
  keep_journaled_value(slot);
  ctx_.shared->fallback.counters().writes_journaled.fetch_add(1, std::memory_order_relaxed);
  log_degraded(state.name(), "write_journaled_after_failure");
  scratch_.assign(*ack);
  return true;
}

void Session::answer_without_upstream(Slot& slot, std::uint64_t seq) {
  if (parked_behind_write(slot, seq)) {
    return;
  }
  if (slot.is_read) {
    complete_degraded_read(slot, seq);
    return;
  }
  const std::string_view answer = degraded_answer(slot);
  release_writes(slot);  // a write that never reached Redis: journaled or refused by now
  complete(seq, answer);
}

void Session::mark_writes(Slot& slot, WritesInFlight::Owner owner) {
  if (slot.info == nullptr || flushes_everything(*slot.info)) {
    return;
  }
  slot.mark = ctx_.shared->writes_in_flight.mark_all(slot.key_views(), owner);
  slot.writes_marked = true;
}

void Session::release_writes(Slot& slot) {
  if (!slot.writes_marked) {
    return;
  }
  slot.writes_marked = false;
  ctx_.shared->writes_in_flight.release_all(slot.key_views());
}

bool Session::write_in_flight(const Slot& slot) const {
  const WritesInFlight& writes = ctx_.shared->writes_in_flight;
  const auto& keys = slot.key_views();
  return std::any_of(keys.begin(), keys.end(),
                     [&](std::string_view key) { return writes.any(key); });
}

void Session::complete_degraded_read(Slot& slot, std::uint64_t seq) {
  scratch_.clear();
  const auto source = degraded_read(slot, scratch_);
  if ((source == policy::Source::Error || source == policy::Source::Miss) &&
      parked_behind_write(slot, seq)) {
    // A write of its keys began on another thread while the chain was asked (its copy gone, its
    // journal entry not in yet): this read waits for it, as if it had been in flight before.
    ctx_.shared->fallback.counters().uncount(source);
    return;
  }
  log_degraded(ctx_.shared->upstreams[slot.upstream]->name(), policy::to_string(source));
  complete(seq, scratch_);
}

bool Session::parked_behind_write(Slot& slot, std::uint64_t seq) {
  if (!slot.is_read || slot.parked || ctx_.parked == nullptr || !write_in_flight(slot)) {
    return false;
  }
  // The write went out at most request_timeout ago: by then it has its outcome.
  const auto& upstreams = ctx_.config->upstreams;
  const auto wait = slot.upstream < upstreams.size() ? upstreams[slot.upstream].request_timeout
                                                     : upstream::Millis{100};
  slot.parked = true;
  ++in_upstream_;  // keeps the session, like a request still with Redis
  ++parked_;
  // Twice that and more: the write's deadline fires on its own thread, which a loaded machine
  // may run late; the wait ends as soon as the outcome is in anyway.
  ctx_.parked->park(this, seq, last_activity_ + 2 * wait + std::chrono::milliseconds(50));
  return true;
}

bool Session::retry_parked(std::uint64_t seq, bool expired) {
  if (!closed_ && !expired && write_in_flight(slot_at(seq))) {
    return false;
  }
  --in_upstream_;
  --parked_;
  if (closed_) {
    if (in_upstream_ == 0) {
      write_signal_.notify();  // the writer keeps this session alive until now
    }
    return true;
  }
  defer_wake_ = false;
  last_activity_ = std::chrono::steady_clock::now();
  complete_degraded_read(slot_at(seq), seq);
  return true;
}

policy::Source Session::degraded_read(Slot& slot, std::string& out) {
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
          if (protocol_ != resp::Protocol::Resp3 || !resp::append_as_resp3(out, reply)) {
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
  return fallback.answer_read(*slot.info, slot.args, slot.cache_key, *slot.policy,
                              ctx_.snapshot->policies, last_activity_, state.no_fallback_error(),
                              out, protocol_, overlay ? &*overlay : nullptr);
}

std::string_view Session::degraded_answer(Slot& slot) {
  SharedState& shared = *ctx_.shared;
  upstream::UpstreamState& state = *shared.upstreams[slot.upstream];
  auto& counters = shared.fallback.counters();
  scratch_.clear();
  if (slot.is_read) {
    const auto source = degraded_read(slot, scratch_);
    log_degraded(state.name(), policy::to_string(source));
    return scratch_;
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
  // leaves the copy (see keep_journaled_value). Meanwhile its keys count as written in flight:
  // a read on another thread that finds neither the copy nor the journal entry waits for it
  // (complete_degraded_read).
  struct Unmark {
    Session& session;
    Slot& slot;
    bool active;
    ~Unmark() {
      if (active) {
        session.release_writes(slot);
      }
    }
  } unmark{*this, slot, !slot.writes_marked};
  if (unmark.active) {
    mark_writes(slot, WritesInFlight::owner_of(this));
  }
  invalidate_keys(slot);
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
    keep_journaled_value(slot);
  }
  (mode == policy::WritesWhenOpen::Journal ? counters.writes_journaled
                                           : counters.writes_invalidated)
      .fetch_add(1, std::memory_order_relaxed);
  log_degraded(state.name(),
               mode == policy::WritesWhenOpen::Journal ? "write_journaled" : "write_invalidated");
  scratch_.assign(*ack);
  return scratch_;
}

void Session::on_part_reply(Slot& slot, std::uint64_t seq, std::uint32_t part, ReplyStatus status,
                            std::string_view bytes) {
  if (status != ReplyStatus::Ok || bytes[0] == '-') {
    if (!slot.part_failed) {
      slot.part_failed = true;
      slot.data.assign(status == ReplyStatus::Ok || status == ReplyStatus::FailedReply
                           ? bytes
                           : std::string_view{});
    }
  } else {
    slot.parts[part].assign(bytes);
  }
  if (--slot.parts_pending > 0) {
    return;
  }
  if (slot.is_write) {
    invalidate_keys(slot);
  }
  scratch_.clear();
  if (slot.part_failed) {
    upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
    if (slot.merge == Merge::Mget) {
      degraded_read(slot, scratch_);
    } else {
      scratch_.assign(slot.data.empty() ? std::string_view(state.write_unknown_error())
                                        : std::string_view(slot.data));
    }
    complete(seq, scratch_);
    return;
  }
  ctx_.shared->fallback.counters().count(policy::Source::Upstream);
  merge_parts(slot.merge, slot.parts, slot.key_part, protocol_, scratch_);
  complete(seq, scratch_);
}

}  // namespace seawall::proxy
