#include "seawall/proxy/split_forward.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/replies.hpp"

namespace seawall::proxy {

using command::CommandInfo;
using command::Merge;
using upstream::ReplyStatus;

bool SplitForward::forward(const CommandInfo& info, std::span<const std::string_view> args,
                           std::span<const std::uint32_t> keys) {
  const command::CommandRules& rules = command::rules(info);
  const Merge merge = rules.merge;
  const std::size_t step = rules.merge_step;
  if (merge == Merge::None) {
    return false;
  }
  SharedState& shared = *ctx_.shared;
  std::uint64_t seq = 0;
  RequestSlot& slot = session_.push_request(seq);
  slot.info = &info;
  slot.merge = merge;
  slot.is_read = merge == Merge::Mget;
  slot.is_write = !slot.is_read;
  slot.copy_args(args);
  slot.keys.assign(keys.begin(), keys.end());
  slot.policy = &ctx_.snapshot->policies.match(args[1]);

  // Group keys by upstream, in order of first appearance: part p goes to part_upstream[p].
  std::array<std::size_t, kMaxParts> part_upstream{};
  // Grouped by upstream and, in a cluster, by slot (KeyRoute::part_key): part_upstream holds
  // part keys until they are turned back into upstreams below.
  const std::optional<std::size_t> grouped = group_by_upstream(
      keys.size(),
      [&](std::size_t i) { return ctx_.snapshot->router.route_key(args[keys[i]]).part_key(); },
      slot.key_part, part_upstream);
  if (!grouped) {
    // More upstreams than a merge can hold.
    session_.complete_request(seq, resp::replies::kCrossUpstream);
    return true;
  }
  const std::size_t parts = *grouped;
  // An MGET's part may go to its shard's replica (read_from: prefer_replica).
  std::array<std::size_t, kMaxParts> send_to{};
  for (std::size_t p = 0; p < parts; ++p) {
    part_upstream[p] = router::KeyRoute::upstream_of_part(part_upstream[p]);
    send_to[p] = slot.is_read ? session_.read_upstream(slot, part_upstream[p]) : part_upstream[p];
  }
  const auto now = session_.last_activity();
  // Every part's upstream must be reachable; otherwise the whole command takes the fallback.
  std::array<breaker::Permit, kMaxParts> permits{};
  std::array<breaker::CircuitBreaker*, kMaxParts> issuers{};
  bool send = true;
  for (std::size_t p = 0; p < parts && send; ++p) {
    upstream::UpstreamState& state = *shared.upstreams[send_to[p]];
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
    degraded_.answer_without_upstream(slot, seq);
    return true;
  }
  if (slot.is_write) {
    cache_.invalidate_keys(slot);
  }
  slot.parts.resize(parts);
  slot.parts_pending = static_cast<std::uint32_t>(parts);
  std::vector<std::string_view> sub;
  for (std::size_t p = 0; p < parts; ++p) {
    part_request(slot.args, slot.keys, slot.key_part, step, p, sub);
    const SentTo to = send_to[p] == part_upstream[p] ? SentTo::Master : SentTo::Replica;
    session_.send_part(info, args, send_to[p], make_token(seq, static_cast<std::uint32_t>(p), to),
                       sub, permits[p], *issuers[p], now);
  }
  return true;
}

void SplitForward::on_part_reply(RequestSlot& slot, std::uint64_t seq, std::uint32_t part,
                                 ReplyStatus status, std::string_view bytes) {
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
    cache_.invalidate_keys(slot);
  }
  std::string& scratch = session_.scratch_buffer();
  scratch.clear();
  if (slot.part_failed) {
    upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
    if (slot.merge == Merge::Mget) {
      degraded_.read(slot, scratch);
    } else {
      scratch.assign(slot.data.empty() ? std::string_view(state.write_unknown_error())
                                       : std::string_view(slot.data));
    }
    session_.complete_request(seq, scratch);
    return;
  }
  ctx_.shared->fallback.counters().count(policy::Source::Upstream);
  merge_parts(slot.merge, slot.parts, slot.key_part, session_.reply_protocol(), scratch);
  session_.complete_request(seq, scratch);
}

}  // namespace seawall::proxy
