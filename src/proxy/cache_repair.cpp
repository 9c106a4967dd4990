#include "seawall/proxy/cache_repair.hpp"

#include <array>
#include <functional>

#include "seawall/command/sent.hpp"
#include "seawall/policy/fallback.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

void CacheRepair::request(std::size_t upstream, std::string_view key, std::chrono::milliseconds ttl,
                          std::chrono::milliseconds max_stale) {
  if (const auto found = tokens_.find(std::string(key)); found != tokens_.end()) {
    pending_.at(found->second).again = true;
    return;
  }
  if (upstream < ctx_.pools.size() && pending_.size() < kMaxPending) {
    send(Pending{upstream, std::string(key), {}, ttl, max_stale});
  }
}

void CacheRepair::send(Pending p) {
  upstream::UpstreamState& state = *ctx_.shared->upstreams[p.upstream];
  const auto now = std::chrono::steady_clock::now();
  if (!state.ready() || state.breaker().state(now) != breaker::State::Closed) {
    return;  // a fallback period: the copy the outage needs is the journal's or none
  }
  const std::uint64_t token = next_token_++;
  // The ticket before the send: a write sent after this GET refuses its fill.
  p.ticket = ctx_.shared->cache.begin_read();
  p.again = false;
  const std::size_t upstream = p.upstream;
  const auto [it, inserted] = pending_.emplace(token, std::move(p));
  const std::string_view key = it->second.key;
  tokens_.emplace(it->second.key, token);
  const std::array<std::string_view, 2> get{command::sent::kGet, key};
  command_.clear();
  resp::append_command(command_, get);
  ++sent_;
  // May answer at once (NotSent), which erases the entry: nothing of it is used after this.
  ctx_.pools[upstream]
      ->pick(std::hash<std::string_view>{}(key))
      .submit(command_, this, token, now, breaker::Permit{}, nullptr);
}

void CacheRepair::on_reply(std::uint64_t token, std::string_view bytes,
                           upstream::ReplyStatus status,
                           std::chrono::steady_clock::time_point now) {
  const auto found = pending_.find(token);
  if (found == pending_.end()) {
    return;
  }
  Pending p = std::move(found->second);
  pending_.erase(found);
  tokens_.erase(p.key);
  bool stored = false;
  if (status == upstream::ReplyStatus::Ok && !bytes.empty() && bytes[0] != '-') {
    thread_local std::string cache_key;
    policy::make_get_cache_key(p.key, /*resp3=*/false, cache_key);
    const std::array<std::string_view, 1> keys{p.key};
    // Always: the copy repairs a written value, which admission never refuses.
    // A near copy waits for a near miss's PTTL to be trusted (see near_reads.hpp).
    const bool near = ctx_.snapshot->policies.match(p.key).l1.near();
    stored = ctx_.shared->cache.put(p.ticket, cache_key, keys, bytes, p.ttl, p.max_stale, now,
                                    cache::Admission::Always,
                                    /*verified=*/!near) == cache::PutResult::Stored;
    filled_ += stored ? 1 : 0;
  }
  if (!stored && status == upstream::ReplyStatus::Ok && (p.again || ++p.refused < kMaxRefusals)) {
    send(std::move(p));  // a write raced this GET too: what Redis holds after it
  }
}

}  // namespace seawall::proxy
