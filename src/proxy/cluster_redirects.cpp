#include "seawall/proxy/cluster_redirects.hpp"

#include <string>

#include "seawall/cluster/redirect.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/split_forward.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/upstream/cluster_topology.hpp"

namespace seawall::proxy {
namespace {

std::string_view first_key_of_part(const RequestSlot& slot, std::uint32_t part) {
  for (std::size_t i = 0; i < slot.key_part.size() && i < slot.keys.size(); ++i) {
    if (slot.key_part[i] == part) {
      return slot.args[slot.keys[i]];
    }
  }
  return slot.args[slot.keys.empty() ? 0 : slot.keys[0]];
}

}  // namespace

ClusterRedirects::Outcome ClusterRedirects::follow(RequestSlot& slot, std::uint64_t seq,
                                                   std::uint32_t part, std::string_view bytes,
                                                   std::chrono::steady_clock::time_point now) {
  const bool changing = cluster::map_is_changing(bytes);
  if ((!changing && !cluster::maybe_redirect(bytes)) || slot.args.empty()) {
    return Outcome::NotRedirect;
  }
  // A command sent to every shard: no key to follow.
  if (slot.merge != command::Merge::None && slot.keys.empty()) {
    return cluster::cluster_down(bytes) && !slot.is_write ? Outcome::NotSent : Outcome::NotRedirect;
  }
  const auto& upstreams = ctx_.config->upstreams;
  const bool split = slot.merge != command::Merge::None;
  // The upstream the reply came from is a shard of the cluster whose topology knows the node:
  // a part's keys route to one of its shards (whichever one the table says now).
  const std::size_t from =
      split ? ctx_.snapshot->router.route(first_key_of_part(slot, part)) : slot.upstream;
  if (from >= upstreams.size() || upstreams[from].topology == nullptr) {
    return Outcome::NotRedirect;
  }
  if (changing) {
    // -CLUSTERDOWN: the cluster refused it unrun while a slot has no master (the failover of
    // another shard's master, with cluster-require-full-coverage). A read is answered as one
    // that was never sent, from the fallback chain, so a healthy shard's readers do not see
    // another's failover. A write gets Redis's error: journaled while its shard is up, it
    // could be replayed after a later write that a pinned connection sent straight to Redis.
    // -TRYAGAIN (a multi-key command in a migrating slot) is Redis's to word.
    upstreams[from].topology->request_refresh();
    return cluster::cluster_down(bytes) && !slot.is_write ? Outcome::NotSent : Outcome::NotRedirect;
  }
  const std::optional<cluster::Redirect> redirect = cluster::parse_redirect(bytes);
  if (!redirect) {
    return Outcome::NotRedirect;
  }
  upstream::ClusterTopology& topology = *upstreams[from].topology;
  const bool asking = redirect->kind == cluster::RedirectKind::Ask;
  topology.count_redirect(asking);
  if (++slot.redirects > kMaxRedirects) {
    return Outcome::NotSent;
  }
  const std::optional<std::size_t> to = topology.target_of(*redirect);
  if (!to || *to >= ctx_.shared->upstreams.size()) {
    return Outcome::NotSent;
  }
  return resend_to(slot, seq, part, *to, asking, now);
}

ClusterRedirects::Outcome ClusterRedirects::to_master(RequestSlot& slot, std::uint64_t seq,
                                                      std::uint32_t part,
                                                      std::chrono::steady_clock::time_point now) {
  if (slot.args.empty() || slot.info == nullptr) {
    return Outcome::NotSent;
  }
  const bool split = slot.merge != command::Merge::None;
  // A part's keys route to one shard (whichever one the table says now); a whole request keeps
  // its shard's master upstream in slot.upstream.
  const std::size_t to =
      split ? ctx_.snapshot->router.route(first_key_of_part(slot, part)) : slot.upstream;
  if (to >= ctx_.shared->upstreams.size()) {
    return Outcome::NotSent;
  }
  return resend_to(slot, seq, part, to, false, now);
}

ClusterRedirects::Outcome ClusterRedirects::resend_to(RequestSlot& slot, std::uint64_t seq,
                                                      std::uint32_t part, std::size_t to,
                                                      bool asking,
                                                      std::chrono::steady_clock::time_point now) {
  upstream::UpstreamState& state = *ctx_.shared->upstreams[to];
  breaker::CircuitBreaker& breaker = state.breaker();
  breaker::Permit permit;
  if (state.ready()) {
    permit = breaker.try_acquire(now);
  }
  if (!permit.allowed()) {
    return Outcome::NotSent;
  }
  if (slot.merge != command::Merge::None) {
    part_request(slot.args, slot.keys, slot.key_part, command::rules(*slot.info).merge_step, part,
                 command_);
  } else {
    command_.assign(slot.args.begin(), slot.args.end());
    // The whole request now belongs to the shard it went to (its fallback, should it fail).
    slot.upstream = static_cast<std::uint32_t>(to);
  }
  sender_.resend(to, make_token(seq, part), command_, asking, permit, breaker, now);
  return Outcome::Resent;
}

bool ClusterRedirects::pinned_retry(std::string_view reply, upstream::ClusterTopology& topology,
                                    std::string& out) {
  if (!cluster::maybe_redirect(reply)) {
    return false;
  }
  const std::optional<cluster::Redirect> redirect = cluster::parse_redirect(reply);
  if (!redirect) {
    return false;
  }
  topology.count_redirect(redirect->kind == cluster::RedirectKind::Ask);
  topology.target_of(*redirect);  // a MOVED moves the slot, for the client's retry
  out.assign(resp::replies::kPinnedSlotMovingPrefix);
  out.append(std::to_string(redirect->slot));
  out.append(resp::replies::kPinnedSlotMovingSuffix);
  return true;
}

}  // namespace seawall::proxy
