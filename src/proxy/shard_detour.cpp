#include "seawall/proxy/shard_detour.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "seawall/cluster/redirect.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/upstream_ask.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/cluster_topology.hpp"

namespace seawall::proxy {

namespace {
// Redirects followed for one command: a MOVED and an ASK after it (a migration that moved on
// meanwhile) at most; past that the fallback chain answers, as on the shared path.
constexpr int kMaxRedirects = 2;
}  // namespace

std::optional<std::size_t> ShardDetour::target(const WorkerContext& ctx, std::size_t linked,
                                               bool in_multi, bool resp2_subscriber,
                                               command::Command cmd,
                                               std::span<const std::string_view> args,
                                               std::span<const std::uint32_t> keys) {
  const auto& upstreams = ctx.config->upstreams;
  if (in_multi || resp2_subscriber || keys.empty() || cmd.info == nullptr ||
      linked >= upstreams.size() || upstreams[linked].topology == nullptr ||
      cmd.rule().state != command::State::None || cmd.info->has(command::kBlocking) ||
      !command::arity_ok(*cmd.info, args.size())) {
    return std::nullopt;
  }
  const router::Router& router = ctx.snapshot->router;
  const std::size_t up = router.route(args[keys[0]]);
  if (up == linked || up >= upstreams.size() ||
      upstreams[up].topology != upstreams[linked].topology) {
    return std::nullopt;
  }
  for (const std::uint32_t k : keys) {
    if (router.route_key(args[k]) != router.route_key(args[keys[0]])) {
      return std::nullopt;  // several slots: Redis's -CROSSSLOT, as on the link
    }
  }
  return up;
}

awaitable<void> ShardDetour::forward(command::Command cmd, std::span<const std::string_view> args,
                                     std::size_t up) {
  ctx_.shared->count_command(cmd.info);
  // Copies: the arguments are views into the read buffer.
  const std::vector<std::string> kept(args.begin(), args.end());
  const std::vector<std::string_view> views(kept.begin(), kept.end());
  std::string command;
  resp::append_command(command, views);
  RequestSlot slot;
  pinned_.describe(slot, cmd.info, views, up);
  const CacheEffects cache(ctx_);
  const auto ex = session_.client_socket().get_executor();
  const upstream::Protocol protocol = pinned_.protocol() == resp::Protocol::Resp3
                                          ? upstream::Protocol::Resp3
                                          : upstream::Protocol::Resp2;
  bool asking = false;
  for (int redirects = 0; redirects <= kMaxRedirects; ++redirects) {
    upstream::UpstreamState& state = *ctx_.shared->upstreams[up];
    breaker::CircuitBreaker& breaker = state.breaker();
    auto now = std::chrono::steady_clock::now();
    breaker::Permit permit;
    if (state.ready()) {
      permit = breaker.try_acquire(now);
    }
    if (!permit.allowed()) {
      break;  // the fallback chain answers
    }
    if (slot.is_write) {
      cache.invalidate_keys(slot);
    }
    upstream::Connection& connection = ctx_.pools[up]->pick(client_id_, protocol);
    if (asking) {
      UpstreamAsk::send_raw(ex, connection, command::sent::kAskingRequest, now);
    }
    const auto ask = UpstreamAsk::send_raw(ex, connection, command, now, permit, &breaker);
    co_await ask->wait();
    if (pinned_.closed()) {
      co_return;
    }
    if (slot.is_write) {
      cache.invalidate_keys(slot);  // a read that raced it must not leave an older value
    }
    const upstream::ReplyStatus status = ask->status();
    if (status == upstream::ReplyStatus::NotSent ||
        (slot.is_read && status != upstream::ReplyStatus::Ok)) {
      break;  // it did not run, or a read failed: the fallback chain answers
    }
    if (!ask->reply()) {
      // A write that timed out or lost its connection may have run.
      ctx_.shared->fallback.counters().count(policy::Source::Error);
      session_.answer_locally(state.write_unknown_error());
      co_return;
    }
    const std::string& reply = *ask->reply();
    upstream::ClusterTopology& topology = *ctx_.config->upstreams[up].topology;
    if (const std::optional<cluster::Redirect> redirect = cluster::parse_redirect(reply)) {
      asking = redirect->kind == cluster::RedirectKind::Ask;
      topology.count_redirect(asking);
      const std::optional<std::size_t> to = topology.target_of(*redirect);
      if (!to || *to >= ctx_.shared->upstreams.size()) {
        break;
      }
      up = *to;
      slot.upstream = static_cast<std::uint32_t>(up);
      continue;
    }
    if (cluster::map_is_changing(reply)) {
      topology.request_refresh();
      if (slot.is_read && cluster::cluster_down(reply)) {
        break;  // as on the shared path: another shard's failover does not fail this read
      }
    }
    ctx_.shared->fallback.counters().count(policy::Source::Upstream);
    session_.answer_locally(reply);
    co_return;
  }
  session_.answer_locally(pinned_.degraded_answer(slot));
}

}  // namespace seawall::proxy
