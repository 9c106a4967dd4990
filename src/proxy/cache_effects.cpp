#include "seawall/proxy/cache_effects.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

using command::CommandInfo;

bool is_write_command(const CommandInfo& info) {
  // EVAL/FCALL carry no read/write flag in Redis 7.0: assume they may write.
  return info.has(command::kWrite) || (info.has(command::kScripting) &&
                                       !info.has(command::kReadonly) && !info.has(command::kNoKey));
}

bool flushes_everything(const CommandInfo& info) { return command::rules(info).flushes_all; }

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

bool may_restore_copies(const CommandInfo& info) {
  return !flushes_everything(info) && (info.flags & command::kScripting) == 0;
}

void CacheEffects::invalidate_keys(const RequestSlot& slot) const { drop_keys(slot, nullptr); }

void CacheEffects::prefetch_write(const CommandInfo* info, std::span<const std::string_view> args,
                                  std::span<const std::uint32_t> keys) const {
  // A few keys: more would evict what the first ones loaded before they are used.
  constexpr std::size_t kMostKeys = 4;
  if (info == nullptr || keys.empty() || !is_write_command(*info)) {
    return;
  }
  SharedState& shared = *ctx_.shared;
  thread_local std::string cache_key;
  for (std::uint32_t k : keys.first(std::min(keys.size(), kMostKeys))) {
    // The copy a write finds is mostly GET's (a written value is stored as GET's, in RESP2).
    policy::make_get_cache_key(args[k], /*resp3=*/false, cache_key);
    shared.cache.prefetch(args[k], cache_key);
    shared.writes_in_flight.prefetch(args[k]);
  }
}

void CacheEffects::withhold_keys(RequestSlot& slot) const {
  if (slot.info == nullptr || !may_restore_copies(*slot.info)) {
    invalidate_keys(slot);
    return;
  }
  drop_keys(slot, &slot.withheld);
  if (!slot.withheld.empty()) {
    slot.ticket = ctx_.shared->cache.begin_read();  // after the drop: a later write races it
  }
}

void CacheEffects::drop_keys(const RequestSlot& slot, cache::ReplyCache::Withheld* withheld) const {
  if (slot.info != nullptr && flushes_everything(*slot.info)) {
    ctx_.shared->cache.clear();
    return;
  }
  for (std::uint32_t k : slot.keys) {
    ctx_.shared->cache.invalidate_key(slot.args[k], withheld);
  }
  // Its next miss is the write's doing (DEL), not an eviction's.
  if (!ctx_.shared->evicted_keys.empty()) {
    for (std::uint32_t k : slot.keys) {
      ctx_.shared->evicted_keys.forget(slot.args[k]);
    }
  }
}

bool CacheEffects::restore_withheld(RequestSlot& slot, std::string_view reply) const {
  if (slot.withheld.empty() || !breaker::refused_unrun(reply)) {
    slot.withheld.clear();
    return false;
  }
  ctx_.shared->cache.restore(slot.ticket, slot.withheld);
  return true;
}

bool CacheEffects::evicted_copy(const RequestSlot& slot, std::string_view bytes,
                                resp::Protocol protocol, TimePoint now, std::string& out) const {
  // Misses are a few bytes ($-1, _, *0, :0 ...): longer replies skip the lookups at once.
  constexpr std::size_t kLongestMiss = 16;
  SharedState& shared = *ctx_.shared;
  if (shared.evicted_keys.empty() || slot.keys.size() != 1 || slot.merge != command::Merge::None) {
    return false;
  }
  const std::string_view key = slot.args[slot.keys[0]];
  const auto is_miss = [&] {
    if (bytes.size() > kLongestMiss) {
      return false;
    }
    const std::string miss = policy::miss_reply(*slot.info, slot.args);
    if (bytes == miss) {
      return true;
    }
    thread_local std::string miss3;
    miss3.clear();
    return protocol == resp::Protocol::Resp3 && resp::append_as_resp3(miss3, miss) &&
           bytes == miss3;
  };
  if (!is_miss()) {
    // The key is in Redis again (rewritten since, maybe directly): a later miss, when it expires
    // or is deleted, is not the eviction's.
    shared.evicted_keys.forget(key);
    return false;
  }
  const auto window = slot.policy->l1.ttl + slot.policy->l1.max_stale;
  if (slot.cache_key.empty() || !slot.policy->l1.serve_evicted ||
      !shared.evicted_keys.recently(key, now, window)) {
    return false;
  }
  out.clear();
  return shared.cache.lookup(slot.cache_key, now, out).freshness != cache::Freshness::Miss;
}

void CacheEffects::fill_cache(const RequestSlot& slot, std::string_view bytes,
                              resp::Protocol protocol, TimePoint now) const {
  cache::ReplyCache& cache = ctx_.shared->cache;
  if (command::rules(*slot.info).merge == command::Merge::Mget) {
    // Stored per key, as the GET of that key, so GET and MGET answer from the same copies.
    thread_local std::vector<std::string_view> elements;
    thread_local std::string cache_key;
    if (!split_reply_array(bytes, elements) || elements.size() + 1 != slot.args.size()) {
      return;
    }
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const std::string_view key = slot.args[i + 1];
      const policy::Policy& p = ctx_.snapshot->policies.match(key);
      if (!p.l1.enabled) {
        continue;
      }
      policy::make_get_cache_key(key, protocol == resp::Protocol::Resp3, cache_key);
      const std::array<std::string_view, 1> keys{key};
      cache.put(slot.ticket, cache_key, keys, elements[i], p.l1.ttl, p.l1.max_stale, now,
                p.l1.admission, /*verified=*/!p.l1.near());
    }
    return;
  }
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  for (std::uint32_t k : slot.keys) {
    keys.push_back(slot.args[k]);
  }
  // Near copies are verified by their PTTL (NearVerify), which knows the key's server TTL.
  cache.put(slot.ticket, slot.cache_key, keys, bytes, slot.policy->l1.ttl,
            slot.policy->l1.max_stale, now, slot.policy->l1.admission,
            /*verified=*/!slot.policy->l1.near());
}

bool CacheEffects::writes_value(const RequestSlot& slot) const {
  return slot.policy != nullptr && proxy::writes_value(slot.info, slot.args, *slot.policy);
}

void CacheEffects::keep_journaled_value(const RequestSlot& slot, TimePoint now) const {
  // What the journal answers now, the L1 keeps for after the replay: while the breaker is still
  // half-open, reads of the key need a copy, and it is the value Redis will hold by then.
  if (writes_value(slot)) {
    fill_written(slot, now, &ctx_.shared->upstreams[slot.upstream]->journal());
  }
}

void CacheEffects::fill_written(const RequestSlot& slot, TimePoint now,
                                const upstream::Journal* journaled) const {
  for (std::size_t i = 1; i + 1 < slot.args.size(); i += 2) {
    store_written_value(slot.ticket, slot.args[i], slot.args[i + 1], now, slot.mark, journaled);
  }
}

void CacheEffects::store_written_value(cache::ReadTicket ticket, std::string_view key,
                                       std::string_view value, TimePoint now,
                                       WritesInFlight::Marked mark,
                                       const upstream::Journal* journaled) const {
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
  policy::make_get_cache_key(key, /*resp3=*/false, cache_key);
  reply.clear();
  resp::append_bulk(reply, value);
  // Written values are never refused by admission: an outage must read what was written
  // through seawall. Near mode never serves them (unverified): a client writing straight to
  // Redis may have overwritten the value before its acknowledgement reached seawall.
  const auto store = [&](cache::ReadTicket t) {
    return cache.put(t, cache_key, keys, reply, p.l1.ttl, p.l1.max_stale, now,
                     cache::Admission::Always, /*verified=*/false);
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

}  // namespace seawall::proxy
